/**
 * Parameter schemas: one declaration per parameter serves both validation at `Start` and the description
 * `ListProcessors` shows. Reading turns the wire's `ParamValue`s into plain typed values, refusing unknown
 * names, missing required ones, wrong kinds and values out of range, with messages that name the bound and
 * the value given ("`top_p` must be in (0, 1]; given 1.5").
 *
 * Int vs float: a `float` parameter accepts an int value (gRPC and JSON clients send `2` for `2.0`; Hugging
 * Face's refusal of Python ints such as `repetition_penalty=2` is a Python typing accident, not a rule worth
 * copying). An `int` parameter refuses a float value, even `50.0`: the type says the client meant a real.
 *
 * Sizes: every list and string has a maximum length (its schema's, or the defaults of `PROCESSOR_LIMITS` for
 * plugins that declare none), checked before any element is read, so that a refusal costs no more than the
 * check of a length: "`token_ids` must hold at most 65,536 ids; given 800,000".
 */
import { count, characterCount, named, quoted } from './echo.js';
import { ProcessorParameterError } from './errors.js';
import { PROCESSOR_LIMITS } from './limits.js';
import type { ParamType, ParamValue, ParameterSpec, StaticContext } from './types.js';

/** One `[token ids, bias]` pair of a `sequence_bias_list`. */
export interface SequenceBiasEntry {
  readonly tokenIds: readonly number[];
  readonly bias: number;
}

/** One `[key, value]` pair of an `int_map`. */
export interface IntMapEntry {
  readonly key: number;
  readonly value: number;
}

/** The TypeScript value each parameter type reads to. */
export interface ParamTypeValues {
  float: number;
  int: number;
  bool: boolean;
  string: string;
  int_list: readonly number[];
  string_list: readonly string[];
  int_list_list: readonly (readonly number[])[];
  sequence_bias_list: readonly SequenceBiasEntry[];
  int_map: readonly IntMapEntry[];
}

/** One end of an allowed interval. */
export interface Bound {
  readonly value: number;
  readonly inclusive: boolean;
}

interface SchemaOf<T extends ParamType> {
  readonly type: T;
  readonly description: string;
  readonly required?: boolean;
  readonly default?: ParamTypeValues[T];
  /** Lower bound of a number (or of every number of an `int_list` / `int_list_list`). */
  readonly min?: Bound;
  /** Upper bound, as `min`. */
  readonly max?: Bound;
  /** Appended to a bound error when the bound is stricter than Hugging Face's, saying why. */
  readonly boundReason?: string;
  /** Every integer (of a list too) must be a token id in `[0, vocabSize)`. */
  readonly tokenIds?: boolean;
  /** A list (and each inner list) must have at least one element. */
  readonly nonEmpty?: boolean;
  /** Most elements of a list (the outer one of a list of lists); default `PROCESSOR_LIMITS.defaultListItems`. */
  readonly maxItems?: number;
  /** Most elements of each inner list (`int_list_list`, `sequence_bias_list`); default `defaultInnerListItems`. */
  readonly maxInnerItems?: number;
  /** Most characters of a string, or of each string of a list; default `defaultStringCharacters`. */
  readonly maxCharacters?: number;
  /** Most characters of all the strings of a `string_list` together. */
  readonly maxTotalCharacters?: number;
  /** What a message calls the elements of the list ("sequences"); by default "ids", "integers", "strings", … */
  readonly itemNoun?: string;
}

/** The schema of one parameter. */
export type ParamSchema = { [T in ParamType]: SchemaOf<T> }[ParamType];
export type ParamSchemas = Readonly<Record<string, ParamSchema>>;

type HasValue<S> = S extends { readonly required: true } ? true : S extends { readonly default: unknown } ? true : false;
type Simplify<T> = { [K in keyof T]: T[K] } & {};

/** The typed parameters a schema reads to: required or defaulted ones are always present. */
export type ParamsOf<S extends ParamSchemas> = Simplify<
  { readonly [K in keyof S as HasValue<S[K]> extends true ? K : never]: ParamTypeValues[S[K]['type']] } & {
    readonly [K in keyof S as HasValue<S[K]> extends true ? never : K]?: ParamTypeValues[S[K]['type']];
  }
>;

/** Builds the error for one parameter of one processor. */
type Fail = (parameter: string, detail: string) => never;

/**
 * Reads `raw` against `schemas`. Throws `ProcessorParameterError` on the first problem; returns the typed
 * parameters, defaults filled in.
 */
export function readParameters<S extends ParamSchemas>(
  processor: string,
  schemas: S,
  raw: Readonly<Record<string, ParamValue>>,
  context: StaticContext,
): ParamsOf<S> {
  const fail: Fail = (parameter, detail) => {
    throw new ProcessorParameterError(processor, parameter, detail);
  };
  const names = Object.keys(schemas);
  for (const given of Object.keys(raw)) {
    if (!Object.hasOwn(schemas, given)) {
      fail(
        given,
        names.length === 0
          ? `takes no parameters; given ${named(given)}`
          : `unknown parameter ${named(given)}; expected one of: ${names.map((n) => `\`${n}\``).join(', ')}`,
      );
    }
  }
  const values: Record<string, unknown> = {};
  for (const name of names) {
    const schema = schemas[name]!;
    const value = raw[name];
    if (value === undefined) {
      if (schema.required === true) fail(name, `\`${name}\` is required (${describeType(schema.type)})`);
      if (schema.default !== undefined) values[name] = schema.default;
      continue;
    }
    values[name] = readValue(name, schema, value, context, fail);
  }
  return values as ParamsOf<S>;
}

/** The `ListProcessors` description of each parameter. */
export function describeParameters(schemas: ParamSchemas): ParameterSpec[] {
  return Object.entries(schemas).map(([name, schema]) => ({
    name,
    type: schema.type,
    description: schema.description,
    required: schema.required === true,
    range: rangeText(schema),
    defaultValue: schema.default === undefined ? '' : formatDefault(schema.default),
  }));
}

/**
 * A compact rendering of a wire value for error messages: long strings cut (`quoted`), lists to their first
 * elements, and lists nested deeper than two levels to their length.
 */
export function formatParamValue(value: ParamValue, depth = 0): string {
  switch (value.kind) {
    case 'float':
    case 'int':
    case 'bool':
      return String(value.value);
    case 'string':
      return quoted(value.value);
    case 'list': {
      const items = value.value;
      if (depth >= 2 && items.length > 0) return `[… ${count(items.length)} ${items.length === 1 ? 'item' : 'items'}]`;
      const shown = items.slice(0, 8).map((item) => formatParamValue(item, depth + 1));
      if (items.length > 8) shown.push(`… ${count(items.length - 8)} more`);
      return `[${shown.join(', ')}]`;
    }
  }
}

function readValue(name: string, schema: ParamSchema, value: ParamValue, context: StaticContext, fail: Fail): unknown {
  switch (schema.type) {
    case 'float':
      return checkBounds(name, schema, readFloat(name, value, fail), fail);
    case 'int':
      return checkInteger(name, schema, readInt(name, value, fail), context, fail);
    case 'bool':
      if (value.kind !== 'bool') fail(name, wrongKind(name, 'a bool', value));
      return value.value;
    case 'string':
      if (value.kind !== 'string') fail(name, wrongKind(name, 'a string', value));
      return checkCharacters(name, value.value, maxCharacters(schema), fail);
    case 'int_list':
      return readIntegers(name, readList(name, value, outerList(schema), fail), schema, context, fail);
    case 'string_list':
      return readStrings(name, schema, value, fail);
    case 'int_list_list':
      return readList(name, value, outerList(schema), fail).map((inner, i) =>
        readIntegers(`${name}[${i}]`, readList(`${name}[${i}]`, inner, innerList(schema), fail, name), schema, context, fail, name),
      );
    case 'sequence_bias_list':
      return readList(name, value, outerList(schema), fail).map((pair, i): SequenceBiasEntry => {
        const [ids, bias] = readPair(`${name}[${i}]`, pair, '[list of token ids, bias]', fail, name);
        const idsPath = `${name}[${i}][0]`;
        const items = readList(idsPath, ids, { ...innerList(schema), nonEmpty: true }, fail, name);
        const tokenIds = readIntegers(idsPath, items, schema, context, fail, name);
        return { tokenIds, bias: readFloat(`${name}[${i}][1]`, bias, fail, name) };
      });
    case 'int_map':
      return readList(name, value, outerList(schema), fail).map((pair, i): IntMapEntry => {
        const [key, entryValue] = readPair(`${name}[${i}]`, pair, '[int key, value]', fail, name);
        return {
          key: readInt(`${name}[${i}][0]`, key, fail, name),
          value: readFloat(`${name}[${i}][1]`, entryValue, fail, name),
        };
      });
  }
}

function readFloat(path: string, value: ParamValue, fail: Fail, parameter = path): number {
  let number: number;
  if (value.kind === 'float') number = value.value;
  else if (value.kind === 'int') number = Number(value.value);
  else return fail(parameter, wrongKind(path, 'a number', value));
  if (!Number.isFinite(number)) fail(parameter, `\`${path}\` must be a finite number; given ${number}`);
  return number;
}

function readInt(path: string, value: ParamValue, fail: Fail, parameter = path): number {
  if (value.kind === 'float') {
    return fail(parameter, `\`${path}\` must be an integer (an int value, not a float); given the float ${value.value}`);
  }
  if (value.kind !== 'int') return fail(parameter, wrongKind(path, 'an integer', value));
  if (typeof value.value === 'number' && !Number.isInteger(value.value)) {
    fail(parameter, `\`${path}\` must be an integer; given ${value.value}`);
  }
  const number = Number(value.value);
  if (!Number.isSafeInteger(number) || (typeof value.value === 'bigint' && BigInt(number) !== value.value)) {
    fail(parameter, `\`${path}\` must be an integer within ±${Number.MAX_SAFE_INTEGER}; given ${value.value}`);
  }
  return number;
}

/** How long a list may be, and what its elements are called. */
interface ListBounds {
  readonly nonEmpty: boolean;
  readonly maxItems: number;
  readonly noun: string;
}

function outerList(schema: ParamSchema): ListBounds {
  return { nonEmpty: schema.nonEmpty === true, maxItems: schema.maxItems ?? PROCESSOR_LIMITS.defaultListItems, noun: itemNoun(schema) };
}

function innerList(schema: ParamSchema): ListBounds {
  return {
    nonEmpty: schema.nonEmpty === true,
    maxItems: schema.maxInnerItems ?? PROCESSOR_LIMITS.defaultInnerListItems,
    noun: schema.tokenIds === true ? 'ids' : 'integers',
  };
}

function maxCharacters(schema: ParamSchema): number {
  return schema.maxCharacters ?? PROCESSOR_LIMITS.defaultStringCharacters;
}

function itemNoun(schema: ParamSchema): string {
  if (schema.itemNoun !== undefined) return schema.itemNoun;
  switch (schema.type) {
    case 'int_list':
      return schema.tokenIds === true ? 'ids' : 'integers';
    case 'string_list':
      return 'strings';
    case 'int_list_list':
      return 'lists';
    default:
      return 'pairs';
  }
}

/** The elements of a list, its length checked before any of them is read. */
function readList(path: string, value: ParamValue, bounds: ListBounds, fail: Fail, parameter = path): readonly ParamValue[] {
  if (value.kind !== 'list') return fail(parameter, wrongKind(path, 'a list', value));
  const length = value.value.length;
  if (bounds.nonEmpty && length === 0) fail(parameter, `\`${path}\` must not be empty`);
  if (length > bounds.maxItems) {
    fail(parameter, `\`${path}\` must hold at most ${count(bounds.maxItems)} ${bounds.noun}; given ${count(length)}`);
  }
  return value.value;
}

function readStrings(name: string, schema: ParamSchema, value: ParamValue, fail: Fail): string[] {
  const items = readList(name, value, outerList(schema), fail);
  const strings = items.map((item, i) => {
    if (item.kind !== 'string') fail(name, wrongKind(`${name}[${i}]`, 'a string', item));
    return checkCharacters(`${name}[${i}]`, item.value, maxCharacters(schema), fail, name);
  });
  const maxTotal = schema.maxTotalCharacters;
  if (maxTotal !== undefined && strings.reduce((sum, text) => sum + text.length, 0) > maxTotal) {
    const total = strings.reduce((sum, text) => sum + characterCount(text), 0);
    if (total > maxTotal) fail(name, `\`${name}\` must hold at most ${count(maxTotal)} characters in all; given ${count(total)}`);
  }
  return strings;
}

/** `text`, refused when it has more than `max` characters (counted only when its UTF-16 length may exceed it). */
function checkCharacters(path: string, text: string, max: number, fail: Fail, parameter = path): string {
  if (text.length > max) {
    const characters = characterCount(text);
    if (characters > max) fail(parameter, `\`${path}\` must be at most ${count(max)} characters long; given ${count(characters)}`);
  }
  return text;
}

function readPair(path: string, value: ParamValue, shape: string, fail: Fail, parameter: string): readonly [ParamValue, ParamValue] {
  if (value.kind !== 'list' || value.value.length !== 2) {
    return fail(parameter, `\`${path}\` must be a pair ${shape}; given ${formatParamValue(value)}`);
  }
  return [value.value[0]!, value.value[1]!];
}

/**
 * The integers of the list at `path`, each checked as `checkInteger` does. A plain valid element is taken as
 * it is; the path of an element is spelled out only for the message of its refusal, since lists hold up to
 * tens of thousands of them.
 */
function readIntegers(
  path: string,
  items: readonly ParamValue[],
  schema: ParamSchema,
  context: StaticContext,
  fail: Fail,
  parameter = path,
): number[] {
  const numbers = new Array<number>(items.length);
  const tokenIds = schema.tokenIds === true;
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!;
    const value = item.kind === 'int' ? item.value : undefined;
    const plain =
      typeof value === 'number' &&
      Number.isSafeInteger(value) &&
      (!tokenIds || (value >= 0 && value < context.vocabSize)) &&
      withinBounds(schema, value);
    numbers[i] = plain
      ? value
      : checkInteger(`${path}[${i}]`, schema, readInt(`${path}[${i}]`, item, fail, parameter), context, fail, parameter);
  }
  return numbers;
}

function checkInteger(
  path: string,
  schema: ParamSchema,
  value: number,
  context: StaticContext,
  fail: Fail,
  parameter = path,
): number {
  if (schema.tokenIds === true && (value < 0 || value >= context.vocabSize)) {
    fail(parameter, `\`${path}\` must be a token id in [0, ${context.vocabSize}); given ${value}`);
  }
  return checkBounds(path, schema, value, fail, parameter);
}

function withinBounds(schema: ParamSchema, value: number): boolean {
  const { min, max } = schema;
  const belowMin = min !== undefined && (min.inclusive ? value < min.value : value <= min.value);
  const aboveMax = max !== undefined && (max.inclusive ? value > max.value : value >= max.value);
  return !belowMin && !aboveMax;
}

function checkBounds(path: string, schema: ParamSchema, value: number, fail: Fail, parameter = path): number {
  const { min, max } = schema;
  if (!withinBounds(schema, value)) {
    const reason = schema.boundReason === undefined ? '' : ` (${schema.boundReason})`;
    fail(parameter, `\`${path}\` must be ${boundPhrase(min, max)}; given ${value}${reason}`);
  }
  return value;
}

/** "in (0, 1]", "> 0", ">= 1" or "<= 1". */
function boundPhrase(min: Bound | undefined, max: Bound | undefined): string {
  if (min !== undefined && max !== undefined) {
    return `in ${min.inclusive ? '[' : '('}${min.value}, ${max.value}${max.inclusive ? ']' : ')'}`;
  }
  if (min !== undefined) return `${min.inclusive ? '>=' : '>'} ${min.value}`;
  if (max !== undefined) return `${max.inclusive ? '<=' : '<'} ${max.value}`;
  return 'any value';
}

function rangeText(schema: ParamSchema): string {
  const parts: string[] = [];
  if (schema.tokenIds === true) parts.push('[0, vocab_size)');
  if (schema.min !== undefined || schema.max !== undefined) {
    const phrase = boundPhrase(schema.min, schema.max);
    parts.push(phrase.startsWith('in ') ? phrase.slice(3) : phrase);
  }
  const size = sizeText(schema);
  if (size === '') return parts.join(', ');
  return parts.length === 0 ? size : `${size}; each ${parts.join(', ')}`;
}

/** "at most 65,536 ids", "at most 4,096 sequences of at most 64 ids", "at most 16,384 characters", or "". */
function sizeText(schema: ParamSchema): string {
  switch (schema.type) {
    case 'float':
    case 'int':
    case 'bool':
      return '';
    case 'string':
      return `at most ${count(maxCharacters(schema))} characters`;
    case 'string_list': {
      const { maxItems, noun } = outerList(schema);
      const total = schema.maxTotalCharacters;
      const each = total !== undefined && total <= maxCharacters(schema) ? '' : ` of at most ${count(maxCharacters(schema))} characters`;
      return `at most ${count(maxItems)} ${noun}${each}${total === undefined ? '' : `, ${count(total)} characters in all`}`;
    }
    case 'int_list_list':
    case 'sequence_bias_list': {
      const outer = outerList(schema);
      const inner = innerList(schema);
      return `at most ${count(outer.maxItems)} ${outer.noun} of at most ${count(inner.maxItems)} ${inner.noun}`;
    }
    default: {
      const { maxItems, noun } = outerList(schema);
      return `at most ${count(maxItems)} ${noun}`;
    }
  }
}

function formatDefault(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function describeType(type: ParamType): string {
  const words: Record<ParamType, string> = {
    float: 'a number',
    int: 'an integer',
    bool: 'a bool',
    string: 'a string',
    int_list: 'a list of integers',
    string_list: 'a list of strings',
    int_list_list: 'a list of lists of integers',
    sequence_bias_list: 'a list of [token ids, bias] pairs',
    int_map: 'a list of [int key, value] pairs',
  };
  return words[type];
}

function wrongKind(path: string, expected: string, value: ParamValue): string {
  const given = value.kind === 'list' ? 'a list' : `the ${value.kind} ${formatParamValue(value)}`;
  return `\`${path}\` must be ${expected}; given ${given}`;
}

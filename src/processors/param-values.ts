/**
 * Building `ParamValue`s: typed helpers for code, and `paramsFromJson` for plain JSON (tests, examples,
 * JSON clients). JSON has one number type, so an integral number becomes an int value and any other a float
 * value; float parameters accept both.
 */
import type { ParamValue, ProcessorSpec } from './types.js';

export const floatParam = (value: number): ParamValue => ({ kind: 'float', value });
export const intParam = (value: number | bigint): ParamValue => ({ kind: 'int', value });
export const boolParam = (value: boolean): ParamValue => ({ kind: 'bool', value });
export const stringParam = (value: string): ParamValue => ({ kind: 'string', value });
export const listParam = (values: readonly ParamValue[]): ParamValue => ({ kind: 'list', value: values });
export const intListParam = (values: readonly number[]): ParamValue => listParam(values.map(intParam));

/** Converts a JSON value (number, boolean, string or nested arrays of them). */
export function paramFromJson(value: unknown): ParamValue {
  if (typeof value === 'number') return Number.isInteger(value) ? intParam(value) : floatParam(value);
  if (typeof value === 'bigint') return intParam(value);
  if (typeof value === 'boolean') return boolParam(value);
  if (typeof value === 'string') return stringParam(value);
  if (Array.isArray(value)) return listParam(value.map(paramFromJson));
  throw new TypeError(`a parameter value must be a number, boolean, string or array; given ${JSON.stringify(value)}`);
}

/** Converts a JSON object of parameters, e.g. `{ top_p: 0.9, min_tokens_to_keep: 2 }`. */
export function paramsFromJson(values: Readonly<Record<string, unknown>>): Record<string, ParamValue> {
  return Object.fromEntries(Object.entries(values).map(([name, value]) => [name, paramFromJson(value)]));
}

/** A processor spec from a name and JSON parameters. */
export function processorSpec(name: string, params: Readonly<Record<string, unknown>> = {}): ProcessorSpec {
  return { name, params: paramsFromJson(params) };
}

/**
 * Processor parameters as plain values (`{ top_p: 0.9 }`, `{ token_ids: [3, 7] }`) and their `ParamValue`
 * encoding on the wire. `ListProcessors` says which type each parameter expects.
 */
import type { ParamValue, ProcessorSpec } from './proto.js';

/** A parameter as a plain value. Integers (and bigints) travel as `int_value`, other numbers as `float_value`. */
export type ParamInput = number | bigint | boolean | string | readonly ParamInput[];

/** A processor by name with plain parameters, e.g. `{ name: 'top_p', params: { top_p: 0.9 } }`. */
export interface ProcessorInput {
  readonly name: string;
  readonly params?: Readonly<Record<string, ParamInput>>;
}

/** Encodes one plain value; `path` names it in the error for a value that has no encoding. */
export function toParamValue(value: ParamInput, path: string): ParamValue {
  if (typeof value === 'bigint') return { kind: { $case: 'intValue', value } };
  if (typeof value === 'number') {
    if (Number.isNaN(value)) throw new RangeError(`parameter ${path} must be a number; given NaN`);
    // The server accepts an integer wherever a float is expected, never the reverse.
    return Number.isSafeInteger(value)
      ? { kind: { $case: 'intValue', value: BigInt(value) } }
      : { kind: { $case: 'floatValue', value } };
  }
  if (typeof value === 'boolean') return { kind: { $case: 'boolValue', value } };
  if (typeof value === 'string') return { kind: { $case: 'stringValue', value } };
  if (Array.isArray(value)) {
    const values = value.map((item: ParamInput, index) => toParamValue(item, `${path}[${index}]`));
    return { kind: { $case: 'listValue', value: { values } } };
  }
  throw new TypeError(`parameter ${path} must be a number, bigint, boolean, string or list; given ${typeof value}`);
}

/** Encodes a processor and its parameters. */
export function toProcessorSpec(processor: ProcessorInput): ProcessorSpec {
  if (processor.name.length === 0) throw new RangeError('processor name must not be empty');
  const params: Record<string, ParamValue> = {};
  for (const [key, value] of Object.entries(processor.params ?? {})) {
    params[key] = toParamValue(value, `${processor.name}.${key}`);
  }
  return { name: processor.name, params };
}

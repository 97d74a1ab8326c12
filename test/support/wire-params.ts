/**
 * Processor specs for requests, written as JSON: `processor('top_k', { top_k: 5 })`. Integral numbers become
 * `int_value`, others `float_value` (float parameters accept both); `float(2)` forces a float.
 */
import type { ParamValue, ProcessorSpec } from '../../src/gen/stepwise/v1/stepwise.js';

const FLOAT = Symbol('float');
type Json = number | boolean | string | { readonly [FLOAT]: number } | readonly Json[];

export const float = (value: number): Json => ({ [FLOAT]: value });

export function wireValue(value: Json): ParamValue {
  if (typeof value === 'number') {
    return Number.isInteger(value)
      ? { kind: { $case: 'intValue', value: BigInt(value) } }
      : { kind: { $case: 'floatValue', value } };
  }
  if (typeof value === 'boolean') return { kind: { $case: 'boolValue', value } };
  if (typeof value === 'string') return { kind: { $case: 'stringValue', value } };
  if (Array.isArray(value)) return { kind: { $case: 'listValue', value: { values: value.map(wireValue) } } };
  return { kind: { $case: 'floatValue', value: (value as { [FLOAT]: number })[FLOAT] } };
}

export function processor(name: string, params: Readonly<Record<string, Json>> = {}): ProcessorSpec {
  return { name, params: Object.fromEntries(Object.entries(params).map(([key, value]) => [key, wireValue(value)])) };
}

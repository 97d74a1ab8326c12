/**
 * Processor parameters between the wire (`stepwise.v1.ParamValue`, a oneof with 64-bit integers) and the
 * processors module (`ParamValue`, a tagged union of plain numbers). Integers beyond 2^53 cannot be held
 * exactly by a JavaScript number and are refused rather than rounded.
 */
import type { ParamValue as WireParamValue } from '../gen/stepwise/v1/stepwise.js';
import type { ProcessorSpec as WireProcessorSpec } from '../gen/stepwise/v1/stepwise.js';
import type { ParamValue, ProcessorSpec } from '../processors/types.js';
import { invalidArgument } from './status.js';

/** Converts one wire value; `field` names it in errors, e.g. "processors[1].params[\"top_k\"]". */
export function fromWireParamValue(value: WireParamValue, field: string): ParamValue {
  const kind = value.kind;
  switch (kind?.$case) {
    case 'floatValue':
      return { kind: 'float', value: kind.value };
    case 'intValue': {
      const int = kind.value;
      if (int > BigInt(Number.MAX_SAFE_INTEGER) || int < BigInt(Number.MIN_SAFE_INTEGER)) {
        throw invalidArgument(
          `\`${field}\` must be in [${Number.MIN_SAFE_INTEGER}, ${Number.MAX_SAFE_INTEGER}]; given ${int}`,
        );
      }
      return { kind: 'int', value: Number(int) };
    }
    case 'boolValue':
      return { kind: 'bool', value: kind.value };
    case 'stringValue':
      return { kind: 'string', value: kind.value };
    case 'listValue':
      return { kind: 'list', value: kind.value.values.map((item, i) => fromWireParamValue(item, `${field}[${i}]`)) };
    case undefined:
      throw invalidArgument(`\`${field}\` must hold a value (float, int, bool, string or list); given none`);
  }
}

/** Converts a whole parameter map. */
export function fromWireParams(
  params: { readonly [name: string]: WireParamValue },
  field: string,
): Record<string, ParamValue> {
  const converted: Record<string, ParamValue> = {};
  for (const [name, value] of Object.entries(params)) {
    converted[name] = fromWireParamValue(value, `${field}[${JSON.stringify(name)}]`);
  }
  return converted;
}

/** Converts a processors-module value back to the wire (for `Started.pipeline`). */
export function toWireParamValue(value: ParamValue): WireParamValue {
  switch (value.kind) {
    case 'float':
      return { kind: { $case: 'floatValue', value: value.value } };
    case 'int':
      return { kind: { $case: 'intValue', value: BigInt(value.value) } };
    case 'bool':
      return { kind: { $case: 'boolValue', value: value.value } };
    case 'string':
      return { kind: { $case: 'stringValue', value: value.value } };
    case 'list':
      return { kind: { $case: 'listValue', value: { values: value.value.map(toWireParamValue) } } };
  }
}

/** Converts a whole parameter map back to the wire. */
export function toWireParams(params: Readonly<Record<string, ParamValue>>): { [name: string]: WireParamValue } {
  return Object.fromEntries(Object.entries(params).map(([name, value]) => [name, toWireParamValue(value)]));
}

/** Converts a wire processor spec; `field` names it in errors (e.g. "processors[2]"). */
export function fromWireProcessorSpec(spec: WireProcessorSpec, field: string): ProcessorSpec {
  return { name: spec.name, params: fromWireParams(spec.params, `${field}.params`) };
}

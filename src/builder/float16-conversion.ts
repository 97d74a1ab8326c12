/**
 * The fp16 variant of a model, made the way transformers.js makes its `*_fp16.onnx` files: onnxconverter-
 * common's `float16.convert_float_to_float16(model, keep_io_types=True)` (onnx-layout.md §1).
 *
 * - Every float32 initializer, `Constant` tensor and declared value becomes float16, in the `If` branches
 *   too; a `Cast` to float32 becomes a `Cast` to float16, so all the arithmetic runs in float16.
 * - Values are clamped as the converter clamps them: a magnitude above 1e4 becomes ±1e4 (so the additive
 *   mask `finfo(float32).min` becomes -1e4, still a zero weight after softmax), a non-zero magnitude
 *   below 1e-7 becomes ±1e-7; zeros and infinities stay.
 * - `keepIoTypes` (the default): float32 graph inputs and outputs stay float32, with a `Cast` node at
 *   each (`graph_input_cast_<i>` / `graph_output_cast_<i>`, the converter's names). Without it, the
 *   inputs and outputs become float16 too, as older tools wrote fp16 files.
 *
 * The converter keeps a block list of operators without float16 kernels; none of them (`Range`, `Min`,
 * `Max` here) takes a float input in the T5 graphs, so no further casts are needed.
 */
import pkg from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';
import { float16BitsOf } from '../numeric/float16.js';

const { onnx } = pkg;
const FLOAT = onnx.TensorProto.DataType.FLOAT;
const FLOAT16 = onnx.TensorProto.DataType.FLOAT16;
const GRAPH = onnx.AttributeProto.AttributeType.GRAPH;

/** The converter's defaults (`min_positive_val`, `max_finite_val`). */
export const FLOAT16_MIN_POSITIVE = 1e-7;
export const FLOAT16_MAX_FINITE = 1e4;

export interface Float16Options {
  /** Keep float32 graph inputs and outputs, with casts at the edges (default true). */
  readonly keepIoTypes?: boolean;
}

/** A float32 value as the converter stores it: clamped into [1e-7, 1e4] in magnitude, then rounded. */
export function clampedFloat16Bits(value: number): number {
  const magnitude = Math.abs(value);
  let clamped = value;
  if (magnitude > 0 && magnitude < FLOAT16_MIN_POSITIVE) clamped = Math.sign(value) * FLOAT16_MIN_POSITIVE;
  else if (magnitude > FLOAT16_MAX_FINITE && magnitude !== Infinity) clamped = Math.sign(value) * FLOAT16_MAX_FINITE;
  return float16BitsOf(clamped);
}

/** The float32 values of a tensor (raw little-endian bytes, or the `floatData` field). */
function float32Values(tensor: OnnxTypes.ITensorProto): Float32Array {
  const raw = tensor.rawData;
  if (raw !== undefined && raw !== null && raw.length > 0) {
    const copy = new Uint8Array(raw); // aligned
    return new Float32Array(copy.buffer, 0, copy.length / 4);
  }
  return Float32Array.from(tensor.floatData ?? []);
}

/** A float32 tensor as float16 (other tensors unchanged). */
export function tensorToFloat16(tensor: OnnxTypes.ITensorProto): OnnxTypes.ITensorProto {
  if (tensor.dataType !== FLOAT) return tensor;
  const values = float32Values(tensor);
  const halves = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) halves[i] = clampedFloat16Bits(values[i]!);
  return {
    ...tensor,
    dataType: FLOAT16,
    floatData: [],
    rawData: new Uint8Array(halves.buffer),
  };
}

function valueToFloat16(value: OnnxTypes.IValueInfoProto): OnnxTypes.IValueInfoProto {
  const tensorType = value.type?.tensorType;
  if (tensorType?.elemType !== FLOAT) return value;
  return { ...value, type: { ...value.type, tensorType: { ...tensorType, elemType: FLOAT16 } } };
}

function isFloat32(value: OnnxTypes.IValueInfoProto): boolean {
  return value.type?.tensorType?.elemType === FLOAT;
}

/** A node with its names renamed, its float constants, casts and subgraphs converted. */
function convertNode(node: OnnxTypes.INodeProto, renamed: ReadonlyMap<string, string>): OnnxTypes.INodeProto {
  const rename = (name: string) => renamed.get(name) ?? name;
  const attribute = (node.attribute ?? []).map((attr): OnnxTypes.IAttributeProto => {
    if (node.opType === 'Cast' && attr.name === 'to' && Number(attr.i) === FLOAT) return { ...attr, i: FLOAT16 };
    if (attr.t !== undefined && attr.t !== null) return { ...attr, t: tensorToFloat16(attr.t) };
    if (attr.type === GRAPH && attr.g) return { ...attr, g: convertGraph(attr.g, renamed) };
    return attr;
  });
  return { ...node, input: (node.input ?? []).map(rename), output: (node.output ?? []).map(rename), attribute };
}

/** Converts a graph (the main graph, or a branch reading outer values by their possibly renamed names). */
function convertGraph(graph: OnnxTypes.IGraphProto, renamed: ReadonlyMap<string, string>): OnnxTypes.IGraphProto {
  return {
    ...graph,
    node: (graph.node ?? []).map((node) => convertNode(node, renamed)),
    initializer: (graph.initializer ?? []).map(tensorToFloat16),
    input: (graph.input ?? []).map(valueToFloat16),
    output: (graph.output ?? []).map(valueToFloat16),
    valueInfo: (graph.valueInfo ?? []).map(valueToFloat16),
  };
}

function castNode(name: string, input: string, output: string, to: number): OnnxTypes.INodeProto {
  return { opType: 'Cast', name, input: [input], output: [output], attribute: [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: to }] };
}

/** The fp16 variant of `model` (see the module comment); `model` itself is not modified. */
export function convertToFloat16(model: OnnxTypes.IModelProto, options: Float16Options = {}): OnnxTypes.IModelProto {
  const graph = model.graph!;
  if (options.keepIoTypes === false) return { ...model, graph: convertGraph(graph, new Map()) };

  const renamed = new Map<string, string>();
  const inputCasts: OnnxTypes.INodeProto[] = [];
  const outputCasts: OnnxTypes.INodeProto[] = [];
  (graph.input ?? []).forEach((input, i) => {
    if (!isFloat32(input)) return;
    renamed.set(input.name!, `graph_input_cast_${i}`);
    inputCasts.push(castNode(`graph_input_cast${i}`, input.name!, `graph_input_cast_${i}`, FLOAT16));
  });
  (graph.output ?? []).forEach((output, i) => {
    if (!isFloat32(output)) return;
    renamed.set(output.name!, `graph_output_cast_${i}`);
    outputCasts.push(castNode(`graph_output_cast${i}`, `graph_output_cast_${i}`, output.name!, FLOAT));
  });
  const converted = convertGraph({ ...graph, input: [], output: [] }, renamed);
  return {
    ...model,
    graph: { ...converted, input: graph.input, output: graph.output, node: [...inputCasts, ...converted.node!, ...outputCasts] },
  };
}

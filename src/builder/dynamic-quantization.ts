/**
 * The q8 variant of a model, made the way transformers.js makes its `*_quantized.onnx` files: ONNX
 * Runtime's dynamic quantization in `IntegerOps` mode with int8 weights, `EnableSubgraph` and
 * `MatMulConstBOnly` (onnx-layout.md §1). Every `MatMul` whose second operand is a float32 weight, in the
 * main graph and in the merged decoder's `If` branches alike, becomes what ONNX Runtime's `MatMulInteger`
 * quantizer writes:
 *
 * ```
 * x ─ DynamicQuantizeLinear ─ x_quantized (uint8), x_scale, x_zero_point      (once per x and graph)
 * MatMulInteger(x_quantized, W_quantized, x_zero_point, W_zero_point) ─ Cast(float32) ─┐
 * Mul(x_scale, W_scale) ─────────────────────────────────────────────────────────── Mul ─ y
 * ```
 *
 * Weights are quantized per tensor and symmetrically, as ONNX Runtime does for int8 weights:
 * `scale = max|W| / 127`, zero point 0, `W_quantized = clamp(round_half_even(W / scale), -127, 127)`.
 *
 * Tables read by `Gather` (the embedding, the relative-position biases) are stored as ONNX Runtime's
 * `GatherQuant` stores them, with the activation type: uint8, per tensor, asymmetric over
 * `[min(W, 0), max(W, 0)]`; the gathered rows go through a `DequantizeLinear` (ONNX Runtime places it
 * after the `Transpose` that may follow; transposing first changes no value).
 *
 * The quantized tensors stay in the main graph, stored once, where the branches read them. Inputs and
 * outputs stay float32; so do the other operators (attention's activation × activation products, the
 * norms, softmax).
 */
import pkg from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';

const { onnx } = pkg;
const DataType = onnx.TensorProto.DataType;
const GRAPH = onnx.AttributeProto.AttributeType.GRAPH;

/** An int8 weight as ONNX Runtime quantizes it (symmetric, per tensor). */
export interface QuantizedWeight {
  readonly values: Int8Array;
  readonly scale: number;
}

/** Rounds half to even, as numpy's `round`. */
function roundHalfEven(value: number): number {
  const floor = Math.floor(value);
  const rest = value - floor;
  if (rest > 0.5) return floor + 1;
  if (rest < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** `scale = max|W| / 127` (1 for an all-zero weight), `q = clamp(round(W / scale), -127, 127)`, in float32. */
export function quantizeWeight(weights: Float32Array): QuantizedWeight {
  let absMax = 0;
  for (const value of weights) absMax = Math.max(absMax, Math.abs(value));
  const scale = absMax === 0 ? 1 : Math.fround((2 * absMax) / 254);
  const values = new Int8Array(weights.length);
  for (let i = 0; i < weights.length; i++) values[i] = Math.max(-127, Math.min(127, roundHalfEven(Math.fround(weights[i]! / scale))));
  return { values, scale };
}

/** A uint8 table as ONNX Runtime quantizes a `Gather`'s data (asymmetric, per tensor). */
export interface QuantizedTable {
  readonly values: Uint8Array;
  readonly scale: number;
  readonly zeroPoint: number;
}

/**
 * `scale = (max(W, 0) − min(W, 0)) / 255`, `zero_point = round(−min(W, 0) / scale)`,
 * `q = clamp(round(W / scale) + zero_point, 0, 255)`; an all-zero table gets scale 1 and zero point 0.
 */
export function quantizeTable(table: Float32Array): QuantizedTable {
  let low = 0;
  let high = 0;
  for (const value of table) {
    low = Math.min(low, value);
    high = Math.max(high, value);
  }
  const scale = high === low ? 1 : Math.fround((high - low) / 255);
  const zeroPoint = high === low ? 0 : Math.max(0, Math.min(255, roundHalfEven(-low / scale)));
  const values = new Uint8Array(table.length);
  for (let i = 0; i < table.length; i++) values[i] = Math.max(0, Math.min(255, roundHalfEven(Math.fround(table[i]! / scale)) + zeroPoint));
  return { values, scale, zeroPoint };
}

function float32Values(tensor: OnnxTypes.ITensorProto): Float32Array {
  const raw = tensor.rawData;
  if (raw !== undefined && raw !== null && raw.length > 0) {
    const copy = new Uint8Array(raw);
    return new Float32Array(copy.buffer, 0, copy.length / 4);
  }
  return Float32Array.from(tensor.floatData ?? []);
}

function scalarTensor(name: string, dataType: number, bytes: Uint8Array): OnnxTypes.ITensorProto {
  return { name, dataType, dims: [], rawData: bytes };
}

/** Rewrites graphs, sharing the main graph's weights and the quantized copies made of them. */
class Quantizer {
  private readonly quantized = new Map<string, { values: string; scale: string; zeroPoint: string }>();
  private readonly tables = new Map<string, { values: string; scale: string; zeroPoint: string }>();
  readonly added: OnnxTypes.ITensorProto[] = [];

  constructor(private readonly weights: ReadonlyMap<string, OnnxTypes.ITensorProto>) {}

  /** The names of the int8 copy of weight `name`, made on first use. */
  private weight(name: string): { values: string; scale: string; zeroPoint: string } {
    let names = this.quantized.get(name);
    if (names === undefined) {
      const tensor = this.weights.get(name)!;
      const { values, scale } = quantizeWeight(float32Values(tensor));
      names = { values: `${name}_quantized`, scale: `${name}_scale`, zeroPoint: `${name}_zero_point` };
      this.added.push(
        { name: names.values, dataType: DataType.INT8, dims: tensor.dims, rawData: new Uint8Array(values.buffer) },
        scalarTensor(names.scale, DataType.FLOAT, new Uint8Array(Float32Array.of(scale).buffer)),
        scalarTensor(names.zeroPoint, DataType.INT8, new Uint8Array(1)),
      );
      this.quantized.set(name, names);
    }
    return names;
  }

  /** The names of the uint8 copy of `Gather` table `name`, made on first use. */
  private table(name: string): { values: string; scale: string; zeroPoint: string } {
    let names = this.tables.get(name);
    if (names === undefined) {
      const tensor = this.weights.get(name)!;
      const { values, scale, zeroPoint } = quantizeTable(float32Values(tensor));
      names = { values: `${name}_quantized`, scale: `${name}_scale`, zeroPoint: `${name}_zero_point` };
      this.added.push(
        { name: names.values, dataType: DataType.UINT8, dims: tensor.dims, rawData: values },
        scalarTensor(names.scale, DataType.FLOAT, new Uint8Array(Float32Array.of(scale).buffer)),
        scalarTensor(names.zeroPoint, DataType.UINT8, Uint8Array.of(zeroPoint)),
      );
      this.tables.set(name, names);
    }
    return names;
  }

  private isTableGather(node: OnnxTypes.INodeProto): boolean {
    const table = node.opType === 'Gather' ? this.weights.get(node.input![0]!) : undefined;
    return table !== undefined && table.dataType === DataType.FLOAT;
  }

  private quantizable(node: OnnxTypes.INodeProto): boolean {
    if (node.opType !== 'MatMul') return false;
    const weight = this.weights.get(node.input![1]!);
    return weight !== undefined && weight.dataType === DataType.FLOAT && (weight.dims ?? []).length === 2;
  }

  /** `graph` with its weight MatMuls quantized (and its branches, recursively). */
  graph(graph: OnnxTypes.IGraphProto): OnnxTypes.IGraphProto {
    const scope = graph.name ?? 'graph';
    const activations = new Map<string, { values: string; scale: string; zeroPoint: string }>();
    const nodes: OnnxTypes.INodeProto[] = [];
    for (const node of graph.node ?? []) {
      if (this.isTableGather(node)) {
        const table = this.table(node.input![0]!);
        const rows = node.output![0]!;
        nodes.push(
          { ...node, input: [table.values, ...node.input!.slice(1)], output: [`${rows}_quantized`] },
          { opType: 'DequantizeLinear', name: `${rows}_DequantizeLinear`, input: [`${rows}_quantized`, table.scale, table.zeroPoint], output: [rows] },
        );
        continue;
      }
      if (!this.quantizable(node)) {
        nodes.push(this.withBranches(node));
        continue;
      }
      const [x, w] = node.input as [string, string];
      const y = node.output![0]!;
      let input = activations.get(x);
      if (input === undefined) {
        // Named after the graph too: an outer value quantized in both branches gets one name per branch.
        const base = `${scope}/${x}`;
        input = { values: `${base}_quantized`, scale: `${base}_scale`, zeroPoint: `${base}_zero_point` };
        nodes.push({ opType: 'DynamicQuantizeLinear', name: `${base}_QuantizeLinear`, input: [x], output: [input.values, input.scale, input.zeroPoint] });
        activations.set(x, input);
      }
      const weight = this.weight(w);
      const name = node.name ?? y;
      const integer = `${y}_output_quantized`;
      nodes.push(
        { opType: 'MatMulInteger', name: `${name}_quant`, input: [input.values, weight.values, input.zeroPoint, weight.zeroPoint], output: [integer] },
        { opType: 'Cast', name: `${integer}_cast`, input: [integer], output: [`${integer}_cast_output`], attribute: [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: DataType.FLOAT }] },
        { opType: 'Mul', name: `${name}_quant_scales_mul`, input: [input.scale, weight.scale], output: [`${name}_quant_scales_mul:0`] },
        { opType: 'Mul', name: `${name}_quant_output_scale_mul`, input: [`${integer}_cast_output`, `${name}_quant_scales_mul:0`], output: [y] },
      );
    }
    return { ...graph, node: nodes };
  }

  private withBranches(node: OnnxTypes.INodeProto): OnnxTypes.INodeProto {
    if (!(node.attribute ?? []).some((attr) => attr.type === GRAPH)) return node;
    return { ...node, attribute: node.attribute!.map((attr) => (attr.type === GRAPH && attr.g ? { ...attr, g: this.graph(attr.g) } : attr)) };
  }
}

/** Every value name any node of `graph` (or of its branches) reads. */
function namesRead(graph: OnnxTypes.IGraphProto, into = new Set<string>()): Set<string> {
  for (const node of graph.node ?? []) {
    for (const input of node.input ?? []) into.add(input);
    for (const attr of node.attribute ?? []) if (attr.type === GRAPH && attr.g) namesRead(attr.g, into);
  }
  return into;
}

/** The q8 variant of `model` (see the module comment); `model` itself is not modified. */
export function quantizeDynamic(model: OnnxTypes.IModelProto): OnnxTypes.IModelProto {
  const graph = model.graph!;
  const weights = new Map((graph.initializer ?? []).map((tensor) => [tensor.name!, tensor]));
  const quantizer = new Quantizer(weights);
  const quantized = quantizer.graph(graph);
  // The float32 weights no node reads any more are left out, as ONNX Runtime's quantizer leaves them out.
  const read = namesRead(quantized);
  const initializer = [...(graph.initializer ?? []).filter((tensor) => read.has(tensor.name!)), ...quantizer.added];
  const hasDefaultDomain = (model.opsetImport ?? []).some((opset) => (opset.domain ?? '') === '');
  return {
    ...model,
    // DynamicQuantizeLinear and MatMulInteger need opset 11 or later; T5 files are opset 14.
    opsetImport: hasDefaultDomain ? model.opsetImport : [...(model.opsetImport ?? []), { domain: '', version: 14 }],
    graph: { ...quantized, initializer },
  };
}

/**
 * A small ONNX graph builder over `onnx-proto`, so that model code reads like the math it computes:
 * `g.matMul(g.softmax(scores), v)`. Values are named by strings; every op helper appends one node and
 * returns the name of its output.
 *
 * Initializers live in an `InitializerStore` shared by a graph and its subgraphs: an `If` branch reads
 * the outer graph's weights by name, so each weight is stored once per file.
 */
import pkg from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';

const { onnx } = pkg;

export type ElementType = 'float32' | 'int64' | 'bool';
/** A static size, or the name of a symbolic (dim_param) size. */
export type Dim = number | string;

export interface ValueType {
  readonly elementType: ElementType;
  /** Omitted: the value is declared without a shape (allowed for subgraph outputs). */
  readonly dims?: readonly Dim[];
}

/** The opset and IR version every file is written with (verified on onnxruntime-node 1.30 and transformers.js 4.3.1). */
export const opsetVersion = 14;
export const irVersion = 8;

const dataTypes: Record<ElementType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  int64: onnx.TensorProto.DataType.INT64,
  bool: onnx.TensorProto.DataType.BOOL,
};

export type AttributeValue =
  | number
  | readonly number[]
  | { readonly graph: OnnxTypes.IGraphProto }
  | { readonly tensor: OnnxTypes.ITensorProto };

function bytesOf(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

/** A TensorProto holding `data` as raw little-endian bytes (the array is referenced, not copied). */
export function tensorProto(
  name: string,
  elementType: ElementType,
  dims: readonly number[],
  data: Float32Array | BigInt64Array | Uint8Array,
): OnnxTypes.ITensorProto {
  return { name, dataType: dataTypes[elementType], dims: [...dims], rawData: bytesOf(data) };
}

function valueInfo(name: string, type: ValueType): OnnxTypes.IValueInfoProto {
  const tensorType: OnnxTypes.TypeProto.ITensor = { elemType: dataTypes[type.elementType] };
  if (type.dims !== undefined) {
    tensorType.shape = { dim: type.dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) };
  }
  return { name, type: { tensorType } };
}

function attributeProto(name: string, value: AttributeValue): OnnxTypes.IAttributeProto {
  const types = onnx.AttributeProto.AttributeType;
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new Error(`attribute \`${name}\`: only integer scalars are supported; given ${value}`);
    return { name, type: types.INT, i: value };
  }
  if (Array.isArray(value)) return { name, type: types.INTS, ints: [...(value as number[])] };
  if ('graph' in value) return { name, type: types.GRAPH, g: value.graph };
  return { name, type: types.TENSOR, t: (value as { tensor: OnnxTypes.ITensorProto }).tensor };
}

/** The initializers of one file: weights by name, plus small constants deduplicated by value. */
export class InitializerStore {
  private readonly byName = new Map<string, OnnxTypes.ITensorProto>();
  private readonly constantsByKey = new Map<string, string>();

  /** Registers a weight once; later calls with the same name return the name without re-adding it. */
  add(name: string, elementType: ElementType, dims: readonly number[], data: Float32Array | BigInt64Array | Uint8Array): string {
    if (!this.byName.has(name)) this.byName.set(name, tensorProto(name, elementType, dims, data));
    return name;
  }

  /** A small constant, stored once however many nodes (or branches) use it. */
  constant(elementType: 'float32' | 'int64', dims: readonly number[], values: readonly number[]): string {
    const key = `${elementType}[${dims.join(',')}]:${values.join(',')}`;
    const existing = this.constantsByKey.get(key);
    if (existing !== undefined) return existing;
    const name = `const_${this.constantsByKey.size}`;
    const data = elementType === 'float32' ? Float32Array.from(values) : BigInt64Array.from(values, (v) => BigInt(v));
    this.constantsByKey.set(key, name);
    return this.add(name, elementType, dims, data);
  }

  get tensors(): OnnxTypes.ITensorProto[] {
    return [...this.byName.values()];
  }
}

/**
 * One graph (the main graph of a file, or an `If` branch). Node and value names get `prefix`, so two
 * branches built from the same code never clash.
 */
export class GraphBuilder {
  private readonly nodes: OnnxTypes.INodeProto[] = [];
  private readonly inputs: OnnxTypes.IValueInfoProto[] = [];
  private readonly outputs: OnnxTypes.IValueInfoProto[] = [];
  private readonly outputNames = new Set<string>();
  /** Values renamed to an output name by `output`, so later references still resolve. */
  private readonly renamed = new Map<string, string>();
  private nodeCount = 0;

  constructor(
    readonly name: string,
    readonly initializers: InitializerStore,
    private readonly prefix = '',
  ) {}

  input(name: string, type: ValueType): string {
    this.inputs.push(valueInfo(name, type));
    return name;
  }

  /**
   * Declares `value` as the graph output `name`. The node that computed `value` is made to write `name`
   * directly (no Identity copy on the hot path); an Identity is added only when `value` was not computed
   * by a node of this graph or is already another output.
   */
  output(value: string, name: string, type: ValueType): void {
    const exposed = this.prefix + name;
    const current = this.renamed.get(value) ?? value;
    const producer = this.nodes.find((node) => node.output!.includes(current));
    if (producer !== undefined && !this.outputNames.has(current)) {
      for (const node of this.nodes) {
        node.input = node.input!.map((input) => (input === current ? exposed : input));
        node.output = node.output!.map((output) => (output === current ? exposed : output));
      }
      this.renamed.set(value, exposed);
    } else {
      this.nodes.push({ opType: 'Identity', name: `${this.prefix}Identity_${this.nodeCount++}`, input: [current], output: [exposed] });
    }
    this.outputNames.add(exposed);
    this.outputs.push(valueInfo(exposed, type));
  }

  /** Appends a node with `outputCount` fresh outputs and returns their names. */
  node(opType: string, inputs: readonly string[], attributes: Readonly<Record<string, AttributeValue>> = {}, outputCount = 1): string[] {
    const id = `${this.prefix}${opType}_${this.nodeCount++}`;
    const outputs = Array.from({ length: outputCount }, (_, i) => (outputCount === 1 ? id : `${id}_${i}`));
    this.nodes.push({
      opType,
      name: id,
      input: [...inputs],
      output: outputs,
      attribute: Object.entries(attributes).map(([key, value]) => attributeProto(key, value)),
    });
    return outputs;
  }

  private op(opType: string, inputs: readonly string[], attributes?: Readonly<Record<string, AttributeValue>>): string {
    return this.node(opType, inputs, attributes)[0]!;
  }

  // Constants (stored as initializers of the file).
  int64s(values: readonly number[]): string {
    return this.initializers.constant('int64', [values.length], values);
  }
  int64Scalar(value: number): string {
    return this.initializers.constant('int64', [], [value]);
  }
  float32Scalar(value: number): string {
    return this.initializers.constant('float32', [], [value]);
  }

  // Elementwise arithmetic (numpy broadcasting).
  add(a: string, b: string): string { return this.op('Add', [a, b]); }
  sub(a: string, b: string): string { return this.op('Sub', [a, b]); }
  mul(a: string, b: string): string { return this.op('Mul', [a, b]); }
  pow(a: string, b: string): string { return this.op('Pow', [a, b]); }
  min(a: string, b: string): string { return this.op('Min', [a, b]); }
  max(a: string, b: string): string { return this.op('Max', [a, b]); }
  sqrt(x: string): string { return this.op('Sqrt', [x]); }
  reciprocal(x: string): string { return this.op('Reciprocal', [x]); }
  tanh(x: string): string { return this.op('Tanh', [x]); }
  relu(x: string): string { return this.op('Relu', [x]); }
  less(a: string, b: string): string { return this.op('Less', [a, b]); }
  where(condition: string, whenTrue: string, whenFalse: string): string { return this.op('Where', [condition, whenTrue, whenFalse]); }
  cast(x: string, to: ElementType): string { return this.op('Cast', [x], { to: dataTypes[to] }); }

  // Tensor algebra and shapes.
  matMul(a: string, b: string): string { return this.op('MatMul', [a, b]); }
  softmax(x: string, axis = -1): string { return this.op('Softmax', [x], { axis }); }
  reduceMean(x: string, axes: readonly number[]): string { return this.op('ReduceMean', [x], { axes, keepdims: 1 }); }
  transpose(x: string, perm: readonly number[]): string { return this.op('Transpose', [x], { perm }); }
  reshape(x: string, shape: readonly number[]): string { return this.op('Reshape', [x, this.int64s(shape)]); }
  unsqueeze(x: string, axes: readonly number[]): string { return this.op('Unsqueeze', [x, this.int64s(axes)]); }
  concat(values: readonly string[], axis: number): string { return this.op('Concat', values, { axis }); }
  gather(data: string, indices: string, axis = 0): string { return this.op('Gather', [data, indices], { axis }); }
  /** Integer sequence `[start, limit)`; all three operands are int64 scalars. */
  range(start: string, limit: string, delta: string): string { return this.op('Range', [start, limit, delta]); }
  /** Size of axis `axis` of `x`, as an int64 scalar. */
  dim(x: string, axis: number): string {
    return this.gather(this.op('Shape', [x]), this.int64Scalar(axis));
  }
  /** A constant tensor produced inside this graph (e.g. an empty placeholder output of a branch). */
  constantNode(tensor: OnnxTypes.ITensorProto): string {
    return this.op('Constant', [], { value: { tensor } });
  }

  /** The GraphProto; the main graph of a file carries the initializers, subgraphs read them by name. */
  toProto({ withInitializers }: { withInitializers: boolean }): OnnxTypes.IGraphProto {
    return {
      name: this.name,
      node: this.nodes,
      input: this.inputs,
      output: this.outputs,
      initializer: withInitializers ? this.initializers.tensors : [],
    };
  }
}

/** The model around `graph`, with the project's opset and IR version. */
export function modelProto(graph: OnnxTypes.IGraphProto, docString: string): OnnxTypes.IModelProto {
  return {
    irVersion,
    opsetImport: [{ domain: '', version: opsetVersion }],
    producerName: 'stepwise',
    docString,
    graph,
  };
}

/** Serializes a model (from `modelProto`, or a variant of one). */
export function encodeModel(model: OnnxTypes.IModelProto): Uint8Array {
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}

/** Reading built ONNX files back as protos, for tests that inspect their graphs. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pkg from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';

const { onnx } = pkg;
export const DataType = onnx.TensorProto.DataType;

export function readOnnx(dir: string, file: string): OnnxTypes.IModelProto {
  return onnx.ModelProto.decode(readFileSync(join(dir, 'onnx', file)));
}

/** An int64 field as a number (protobufjs decodes them as `Long`). */
export function int(value: unknown): number {
  return Number(String(value));
}

/** Every graph of a model: the main graph, then its `If` branches (recursively). */
export function allGraphs(graph: OnnxTypes.IGraphProto): OnnxTypes.IGraphProto[] {
  const graphs = [graph];
  for (const node of graph.node ?? []) for (const attr of node.attribute ?? []) if (attr.g) graphs.push(...allGraphs(attr.g));
  return graphs;
}

export function elemType(value: OnnxTypes.IValueInfoProto): number {
  return value.type!.tensorType!.elemType!;
}

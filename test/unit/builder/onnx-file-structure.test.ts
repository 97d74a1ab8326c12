import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pkg from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { readSafetensors } from '../../../src/builder/safetensors.js';
import { tinyModels } from '../../fixtures/models.js';

const { onnx } = pkg;

/** Decoded messages always carry their repeated fields (possibly empty); the casts say so. */
type Graph = OnnxTypes.GraphProto & { node: OnnxTypes.NodeProto[]; initializer: OnnxTypes.TensorProto[]; output: OnnxTypes.ValueInfoProto[] };

function loadModel(dir: string, file: string): OnnxTypes.ModelProto & { graph: Graph } {
  return onnx.ModelProto.decode(readFileSync(join(dir, 'onnx', file))) as OnnxTypes.ModelProto & { graph: Graph };
}

function floatsOf(tensor: OnnxTypes.TensorProto): Float32Array {
  const raw = tensor.rawData;
  return new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
}

const files = ['encoder_model.onnx', 'decoder_model.onnx', 'decoder_with_past_model.onnx', 'decoder_model_merged.onnx'];

describe('ONNX files on disk', () => {
  it('use IR version 8 and the default-domain opset 14 only', () => {
    for (const file of files) {
      const model = loadModel(tinyModels.gatedUntied, file);
      expect(Number(model.irVersion), file).toBe(8);
      expect(model.opsetImport.map((opset) => [opset.domain ?? '', Number(opset.version)]), file).toEqual([['', 14]]);
    }
  });

  it('merged decoder: a single If on use_cache_branch whose branches have no inputs and no initializers of their own', () => {
    const graph = loadModel(tinyModels.gatedUntied, 'decoder_model_merged.onnx').graph;
    expect(graph.node).toHaveLength(1);
    const [ifNode] = graph.node;
    expect(ifNode!.opType).toBe('If');
    expect(ifNode!.input).toEqual(['use_cache_branch']);
    expect(ifNode!.output).toEqual(graph.output.map((output) => output.name));
    const branches: Record<string, Graph> = Object.fromEntries(ifNode!.attribute.map((attribute) => [attribute.name, attribute.g as Graph]));
    expect(Object.keys(branches).sort()).toEqual(['else_branch', 'then_branch']);
    expect(branches.then_branch!.name).toBe('with_past');
    expect(branches.else_branch!.name).toBe('no_past');
    for (const branch of Object.values(branches)) {
      expect(branch.input).toEqual([]);
      expect(branch.initializer).toEqual([]);
      expect(branch.output).toHaveLength(graph.output.length);
    }
  });

  it('merged decoder stores each weight once, about as large as the larger split decoder', () => {
    const merged = loadModel(tinyModels.gatedUntied, 'decoder_model_merged.onnx').graph;
    const names = merged.initializer.map((tensor) => tensor.name);
    expect(new Set(names).size).toBe(names.length);
    const bytes = (file: string) => readFileSync(join(tinyModels.gatedUntied, 'onnx', file)).length;
    expect(bytes('decoder_model_merged.onnx')).toBeLessThan(1.2 * bytes('decoder_model.onnx'));
  });

  it('initializers named after a weight hold exactly the safetensors values (transposed for `<name>.T` MatMul operands)', async () => {
    const { tensors } = await readSafetensors(join(tinyModels.gatedUntied, 'model.safetensors'));
    let checked = 0;
    for (const file of files) {
      for (const initializer of loadModel(tinyModels.gatedUntied, file).graph.initializer) {
        const transposed = initializer.name.endsWith('.T');
        const weight = tensors.get(transposed ? initializer.name.slice(0, -2) : initializer.name);
        if (weight === undefined) continue;
        const values = floatsOf(initializer);
        const dims = initializer.dims.map((dim) => Number(dim));
        if (!transposed) {
          expect(dims, initializer.name).toEqual(weight.shape);
          expect(Buffer.from(values.buffer).equals(Buffer.from(weight.data.buffer, weight.data.byteOffset, weight.data.byteLength)), initializer.name).toBe(true);
        } else {
          const [rows, cols] = weight.shape as [number, number];
          expect(dims, initializer.name).toEqual([cols, rows]);
          for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) expect(values[c * rows + r]).toBe(weight.data[r * cols + c]);
        }
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(40);
  });

  it('the encoder file holds only encoder weights and the embedding; the decoder files no encoder weights', () => {
    const names = (file: string): string[] => loadModel(tinyModels.gatedUntied, file).graph.initializer.map((tensor) => tensor.name ?? '');
    expect(names('encoder_model.onnx').some((name) => name.startsWith('decoder.') || name.startsWith('lm_head'))).toBe(false);
    for (const file of files.slice(1)) expect(names(file).some((name) => name.startsWith('encoder.')), file).toBe(false);
  });
});

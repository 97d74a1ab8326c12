/**
 * Some exports drop `encoder_hidden_states` from `decoder_with_past_model.onnx`, where it is unused (the
 * cross-attention keys and values come from the past inputs). Such a folder loads and decodes exactly as
 * the untouched one; the first-step decoder still needs the input.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import pkg from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadModel, ModelFolderError, type ModelRuntime } from '../../../src/runtime/index.js';
import { argmax, copyModelFolder, stateForText, tinyModels } from './runtime-test-kit.js';

const { onnx } = pkg;

/** Removes the graph input `name` from `onnx/<file>` of `folder`. */
async function dropGraphInput(folder: string, file: string, name: string): Promise<void> {
  const path = join(folder, 'onnx', file);
  const model = onnx.ModelProto.decode(await readFile(path));
  const graph = model.graph!;
  const inputs = graph.input ?? [];
  graph.input = inputs.filter((input) => input.name !== name);
  expect(graph.input).toHaveLength(inputs.length - 1);
  await writeFile(path, onnx.ModelProto.encode(model).finish());
}

type Graph = NonNullable<OnnxTypes.IModelProto['graph']>;

/**
 * Renames the graph input `from` of `onnx/<file>` to `to`, and every use of it (in subgraphs too): a
 * valid file that lacks `from`, where dropping a used input would leave ONNX Runtime unable to load it.
 */
async function renameGraphInput(folder: string, file: string, from: string, to: string): Promise<void> {
  const path = join(folder, 'onnx', file);
  const model = onnx.ModelProto.decode(await readFile(path));
  const rename = (graph: Graph): void => {
    for (const input of graph.input ?? []) if (input.name === from) input.name = to;
    for (const node of graph.node ?? []) {
      node.input = (node.input ?? []).map((name) => (name === from ? to : name));
      for (const attribute of node.attribute ?? []) {
        if (attribute.g) rename(attribute.g);
        for (const subgraph of attribute.graphs ?? []) rename(subgraph);
      }
    }
  };
  rename(model.graph!);
  await writeFile(path, onnx.ModelProto.encode(model).finish());
}

/** Greedy steps for two texts stepped as one batch, with a forced run and a rewind; a copy of every row. */
async function decodeRows(model: ModelRuntime): Promise<Float32Array[]> {
  const states = await Promise.all(['translate English to German: the green house', 'hi'].map((text) => stateForText(model, text)));
  const rows: Float32Array[] = [];
  const step = async () => {
    const batch = await model.step(states);
    batch.forEach((row) => rows.push(Float32Array.from(row)));
    return batch;
  };
  for (let i = 0; i < 4; i++) (await step()).forEach((row, index) => states[index]!.append(argmax(row)));
  states.forEach((state) => [7, 11].forEach((token) => state.append(token)));
  await step();
  states.forEach((state) => state.rewind(2));
  await step();
  states.forEach((state) => state.dispose());
  return rows;
}

describe('a decoder_with_past_model.onnx without encoder_hidden_states', () => {
  let untouched: ModelRuntime;
  let trimmed: ModelRuntime;

  beforeAll(async () => {
    const folder = await copyModelFolder(tinyModels.gatedTied);
    await dropGraphInput(folder, 'decoder_with_past_model.onnx', 'encoder_hidden_states');
    [untouched, trimmed] = await Promise.all([
      loadModel(tinyModels.gatedTied, { decoderLayout: 'split' }),
      loadModel(folder, { decoderLayout: 'split' }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([untouched?.dispose(), trimmed?.dispose()]);
  });

  it('loads and decodes exactly the logits of the untouched folder', async () => {
    expect(trimmed.info.decoderLayout).toBe('split');
    const expected = await decodeRows(untouched);
    const actual = await decodeRows(trimmed);
    expect(actual).toHaveLength(expected.length);
    expect(actual).toEqual(expected);
  });
});

describe('encoder_hidden_states stays required elsewhere', () => {
  it.each([
    ['decoder_model.onnx', 'split', 'decoder without past (decoder_model.onnx)'],
    ['decoder_model_merged.onnx', 'merged', 'merged decoder (decoder_model_merged.onnx)'],
  ] as const)('a %s without it is refused, naming the missing input', async (file, layout, role) => {
    const folder = await copyModelFolder(tinyModels.reluTied);
    await renameGraphInput(folder, file, 'encoder_hidden_states', 'encoder_outputs');
    const loading = loadModel(folder, { decoderLayout: layout });
    await expect(loading).rejects.toBeInstanceOf(ModelFolderError);
    await expect(loading).rejects.toThrow(`onnx/${file}: does not have the inputs of a T5 ${role}: missing \`encoder_hidden_states\`;`);
  });
});

/**
 * The decoder paths the runtime can take give the same logits: the merged file and the split pair,
 * cached stepping and a full recompute of the whole history, a decoder prefix and stepping its tokens
 * one by one, a forced run of tokens and the same tokens chosen one at a time.
 */
import { join } from 'node:path';

import { InferenceSession, Tensor } from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadModel, type ModelRuntime } from '../../../src/runtime/index.js';
import { argmax, expectRowsClose, tinyModels, greedyDecode, stateForText } from './runtime-test-kit.js';

const TEXT = 'translate English to German: The house is wonderful.';
const STEPS = 10;

describe.each(Object.entries(tinyModels))('decoder paths of %s', (_, folder) => {
  let merged: ModelRuntime;
  let split: ModelRuntime;

  beforeAll(async () => {
    merged = await loadModel(folder, { decoderLayout: 'merged' });
    split = await loadModel(folder, { decoderLayout: 'split' });
  });
  afterAll(async () => {
    await merged.dispose();
    await split.dispose();
  });

  it('the merged decoder and the split pair give the same logits at every step', async () => {
    expect(merged.info.decoderLayout).toBe('merged');
    expect(split.info.decoderLayout).toBe('split');
    const fromMerged = await greedyDecode(merged, await stateForText(merged, TEXT), STEPS);
    const fromSplit = await greedyDecode(split, await stateForText(split, TEXT), STEPS);
    expect(fromSplit.tokens).toEqual(fromMerged.tokens);
    fromMerged.rows.forEach((row, step) => expectRowsClose(fromSplit.rows[step]!, row));
  });

  it('cached stepping equals a full recompute of the whole history with decoder_model.onnx', async () => {
    const recompute = await InferenceSession.create(join(folder, 'onnx', 'decoder_model.onnx'));
    try {
      const ids = merged.tokenizer.encode(TEXT);
      const [encoded] = await merged.encode([ids]);
      const state = merged.createState(encoded!);
      const encoderFeeds = {
        encoder_hidden_states: new Tensor('float32', encoded!.hiddenStates, [1, ids.length, merged.info.config.dModel]),
        encoder_attention_mask: new Tensor('int64', new BigInt64Array(ids.length).fill(1n), [1, ids.length]),
      };
      for (let step = 0; step < STEPS; step++) {
        const [row] = await merged.step([state]);
        const history = BigInt64Array.from(state.tokens, BigInt);
        const outputs = await recompute.run({
          ...encoderFeeds,
          input_ids: new Tensor('int64', history, [1, history.length]),
        });
        const logits = outputs.logits!.data as Float32Array;
        const width = merged.info.vocabSize;
        expectRowsClose(row!, logits.subarray((history.length - 1) * width, history.length * width));
        state.append(argmax(row!));
      }
      state.dispose();
    } finally {
      await recompute.release();
    }
  });

  it('a decoder prefix fed on the first step equals stepping the same tokens one by one', async () => {
    const reference = await greedyDecode(merged, await stateForText(merged, TEXT), 6);
    const prefix = reference.tokens.slice(0, 4);
    const prefixed = await stateForText(merged, TEXT, prefix);
    expect(prefixed.tokens).toEqual([merged.info.specialIds.decoderStart, ...prefix]);
    const [row] = await merged.step([prefixed]);
    expectRowsClose(row!, reference.rows[4]!);
    expect(prefixed.cachedLength).toBe(5);
    prefixed.append(reference.tokens[4]!);
    const [next] = await merged.step([prefixed]);
    expectRowsClose(next!, reference.rows[5]!);
    prefixed.dispose();
  });

  it('several tokens appended between steps (a forced run) equal choosing them one at a time', async () => {
    const reference = await greedyDecode(merged, await stateForText(merged, TEXT), 7);
    const forced = await stateForText(merged, TEXT);
    await merged.step([forced]);
    forced.append(reference.tokens[0]!);
    await merged.step([forced]);
    for (const token of reference.tokens.slice(1, 5)) forced.append(token);
    const [row] = await merged.step([forced]);
    expect(forced.cachedLength).toBe(6);
    expectRowsClose(row!, reference.rows[5]!);
    forced.dispose();
  });
});

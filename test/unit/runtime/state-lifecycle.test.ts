/**
 * Decode states are counted while alive and release their cache when disposed, including when the
 * dispose happens during a step; logits rows are views of the decoder output, not copies.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadModel, type ModelRuntime } from '../../../src/runtime/index.js';
import { tinyModels, greedyDecode, stateForText } from './runtime-test-kit.js';

describe('decode state lifecycle', () => {
  let model: ModelRuntime;

  beforeAll(async () => {
    model = await loadModel(tinyModels.gatedTied);
  });
  afterAll(async () => {
    await model.dispose();
  });

  it('liveStates counts undisposed states and returns to 0', async () => {
    expect(model.liveStates).toBe(0);
    const encoded = await model.encode([model.tokenizer.encode('one'), model.tokenizer.encode('two words')]);
    const states = encoded.flatMap((input) => [model.createState(input), model.createState(input, [5])]);
    expect(model.liveStates).toBe(4);
    await model.step(states);
    states[0]!.dispose();
    states[0]!.dispose();
    expect(model.liveStates).toBe(3);
    states.forEach((state) => state.dispose());
    expect(model.liveStates).toBe(0);
  });

  it('a state disposed while its step runs gets an empty row and is not counted', async () => {
    const kept = await stateForText(model, 'kept');
    const cancelled = await stateForText(model, 'cancelled');
    const stepping = model.step([kept, cancelled]);
    cancelled.dispose();
    const [keptRow, cancelledRow] = await stepping;
    expect(keptRow).toHaveLength(model.info.vocabSize);
    expect(cancelledRow).toHaveLength(0);
    expect(cancelled.cachedLength).toBe(0);
    expect(model.liveStates).toBe(1);
    kept.dispose();
    expect(model.liveStates).toBe(0);
  });

  it("a batch's logits rows are views of one output buffer, not copies", async () => {
    const encoded = await model.encode(['a', 'b c', 'd e f'].map((text) => model.tokenizer.encode(text)));
    const states = encoded.map((input) => model.createState(input));
    const rows = await model.step(states);
    const width = model.info.vocabSize * Float32Array.BYTES_PER_ELEMENT;
    expect(rows[1]!.buffer).toBe(rows[0]!.buffer);
    expect(rows[2]!.buffer).toBe(rows[0]!.buffer);
    expect(rows.map((row) => row.byteOffset - rows[0]!.byteOffset)).toEqual([0, width, 2 * width]);
    states.forEach((state) => state.dispose());
  });

  it('disposing the model disposes its live states', async () => {
    const shortLived = await loadModel(tinyModels.gatedTied);
    const state = await stateForText(shortLived, 'hello');
    await shortLived.step([state]);
    await shortLived.dispose();
    expect(state.disposed).toBe(true);
    expect(shortLived.liveStates).toBe(0);
  });

  it('greedy decoding of a tiny model produces varied tokens', async () => {
    const state = await stateForText(model, 'translate English to German: The house is wonderful.');
    const { tokens } = await greedyDecode(model, state, 12);
    console.log(`greedy tokens: ${tokens.join(' ')} → ${JSON.stringify(model.tokenizer.decode(tokens))}`);
    expect(new Set(tokens).size).toBeGreaterThan(2);
    state.dispose();
  });
});

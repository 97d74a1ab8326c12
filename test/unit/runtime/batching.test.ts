/**
 * Batching changes no sequence's result: the encoder over inputs of different lengths (padded and
 * masked) and decoder steps over several states give each sequence what it gets alone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadModel, type DecodeState, type ModelRuntime } from '../../../src/runtime/index.js';
import { argmax, expectRowsClose, tinyModels, greedyDecode, stateForText } from './runtime-test-kit.js';

const TEXTS = [
  'translate English to German: The house is wonderful.',
  'hi',
  'summarize: studies have shown that owning a dog is good for you and for the dog',
];
const STEPS = 8;

describe.each([
  ['merged', tinyModels.reluUntied],
  ['split', tinyModels.gatedTied],
] as const)('batching with the %s decoder', (layout, folder) => {
  let model: ModelRuntime;

  beforeAll(async () => {
    model = await loadModel(folder, { decoderLayout: layout });
  });
  afterAll(async () => {
    await model.dispose();
  });

  it('a batched encode gives each input the hidden states it gets alone', async () => {
    const inputs = TEXTS.map((text) => model.tokenizer.encode(text));
    const batched = await model.encode(inputs);
    for (const [index, ids] of inputs.entries()) {
      const [alone] = await model.encode([ids]);
      expect(batched[index]!.inputIds).toEqual(ids);
      expect(batched[index]!.hiddenStates).toHaveLength(ids.length * model.info.config.dModel);
      expectRowsClose(batched[index]!.hiddenStates, alone!.hiddenStates);
    }
  });

  it('three states with different encoder lengths stepped as one batch equal each stepped alone', async () => {
    const isolated = await Promise.all(TEXTS.map(async (text) => greedyDecode(model, await stateForText(model, text), STEPS)));

    const encoded = await model.encode(TEXTS.map((text) => model.tokenizer.encode(text)));
    const states = encoded.map((input) => model.createState(input));
    for (let step = 0; step < STEPS; step++) {
      const rows = await model.step(states);
      rows.forEach((row, index) => {
        expect(row).toHaveLength(model.info.vocabSize);
        expectRowsClose(row, isolated[index]!.rows[step]!);
        states[index]!.append(isolated[index]!.tokens[step]!);
      });
    }
    states.forEach((state) => state.dispose());
  });

  it('states at different positions in one call each get their own logits', async () => {
    const isolated = await Promise.all(TEXTS.map(async (text) => greedyDecode(model, await stateForText(model, text), STEPS)));
    const states: DecodeState[] = await Promise.all(TEXTS.map((text) => stateForText(model, text)));
    // State 0 starts 3 steps ahead, state 1 has a forced run pending, state 2 starts fresh.
    for (let step = 0; step < 3; step++) {
      await model.step([states[0]!]);
      states[0]!.append(isolated[0]!.tokens[step]!);
    }
    await model.step([states[1]!]);
    for (const token of isolated[1]!.tokens.slice(0, 3)) states[1]!.append(token);

    const rows = await model.step(states);
    expectRowsClose(rows[0]!, isolated[0]!.rows[3]!);
    expectRowsClose(rows[1]!, isolated[1]!.rows[3]!);
    expectRowsClose(rows[2]!, isolated[2]!.rows[0]!);
    states.forEach((state) => state.dispose());
  });

  it('a state that leaves its batch and one that joins keep their own results', async () => {
    const isolated = await Promise.all(TEXTS.map(async (text) => greedyDecode(model, await stateForText(model, text), STEPS)));
    const states = await Promise.all(TEXTS.map((text) => stateForText(model, text)));
    const active = [states[0]!, states[1]!];
    const position = new Map(states.map((state) => [state, 0]));
    for (let step = 0; step < STEPS; step++) {
      if (step === 3) active.splice(0, 1); // state 0 leaves (as if its stream ended) and runs alone
      if (step === 4) active.push(states[2]!); // state 2 joins
      const rows = await model.step(active);
      rows.forEach((row, index) => {
        const state = active[index]!;
        const at = position.get(state)!;
        const which = states.indexOf(state);
        expectRowsClose(row, isolated[which]!.rows[at]!);
        state.append(argmax(row));
        position.set(state, at + 1);
      });
      if (step >= 3 && position.get(states[0]!)! < STEPS) {
        const [alone] = await model.step([states[0]!]);
        expectRowsClose(alone!, isolated[0]!.rows[position.get(states[0]!)!]!);
        states[0]!.append(argmax(alone!));
        position.set(states[0]!, position.get(states[0]!)! + 1);
      }
    }
    states.forEach((state) => state.dispose());
  });
});

/**
 * The model thread's run-ahead: a step run on the token its caller expects gives, when that token is
 * taken, exactly the row the step would give when asked for; when another token, a rewind or a forced run
 * comes instead, the guess is undone and every later row is exactly what it would have been. The thread's
 * counts say how many steps ran ahead and how many were taken.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { DecodeState, NextTokenHint } from '../../../src/runtime/index.js';
import { loadWorkerModel, type RunAheadStats, type WorkerModel } from '../../../src/runtime/worker/index.js';
import { argmax, expectRowsClose, stateForText, tinyModels } from './runtime-test-kit.js';

const TEXT = 'translate English to German: The house is wonderful.';
const GREEDY: NextTokenHint = { kind: 'argmax', unless: [] };

let ahead: WorkerModel;
let plain: WorkerModel;
beforeAll(async () => {
  [ahead, plain] = await Promise.all([
    loadWorkerModel(tinyModels.reluUntied),
    loadWorkerModel(tinyModels.reluUntied, { runAhead: false }),
  ]);
});
afterAll(async () => {
  await Promise.all([ahead?.dispose(), plain?.dispose()]);
});

/** The thread's counts gained while `work` ran. */
async function countsDuring(model: WorkerModel, work: () => Promise<void>): Promise<RunAheadStats> {
  const before = await model.threadRunAhead();
  await work();
  const after = await model.threadRunAhead();
  return { guessed: after.guessed - before.guessed, hits: after.hits - before.hits };
}

/** Steps `state` with a hint for the token after its row; returns a copy of the row. */
async function hintedStep(model: WorkerModel, state: DecodeState, hint: NextTokenHint | undefined): Promise<Float32Array> {
  state.expectNext(hint);
  const [row] = await model.step([state]);
  return Float32Array.from(row!);
}

/**
 * Every way a hint can be followed: the greedy token (taken), another token, the known token (taken), a
 * rewind, a forced run of three tokens, a take-back that keeps the cache, and no hint at all.
 */
async function hintedScript(model: WorkerModel): Promise<Float32Array[]> {
  const state = await stateForText(model, TEXT);
  const rows: Float32Array[] = [];
  const step = async (hint: NextTokenHint | undefined) => {
    rows.push(await hintedStep(model, state, hint));
    return rows[rows.length - 1]!;
  };
  let row = await step(GREEDY);
  for (let i = 0; i < 3; i++) {
    state.append(argmax(row)); // the guess, taken
    row = await step(GREEDY);
  }
  state.append((argmax(row) + 1) % model.vocabSize); // not the guess
  row = await step({ kind: 'token', token: 7 });
  state.append(7); // the known token, taken
  row = await step({ kind: 'token', token: 9 });
  state.rewind(2); // instead of 9: two tokens back, the next step re-feeds the last kept one
  row = await step({ kind: 'token', token: 11 });
  state.append(11);
  state.append(12);
  state.append(13); // a forced run that starts with the guess: still not a single append of it
  row = await step(GREEDY);
  state.append(argmax(row));
  row = await step(GREEDY);
  state.rewind(1, { keepLastCached: true }); // the taken guess given back, its cache kept
  state.append(5);
  row = await step(undefined);
  state.append(argmax(row));
  await step(GREEDY);
  state.dispose();
  return rows;
}

describe('running a step ahead on the model thread', () => {
  it('gives every row exactly as without it, whether the guess is taken, replaced, rewound or extended', async () => {
    const expected = await hintedScript(plain);
    let actual: Float32Array[] = [];
    const counts = await countsDuring(ahead, async () => {
      actual = await hintedScript(ahead);
    });
    expect(actual).toHaveLength(expected.length);
    actual.forEach((row, index) => expect(row, `row ${index}`).toEqual(expected[index]));
    // Hinted steps: 4 greedy + 2 known + 1 after the rewind + 2 greedy + 1 last; the last one's guess is
    // run (nobody says the stream ends) and dropped with the state. Taken: 3 greedy, 1 known, 1 greedy.
    expect(counts).toEqual({ guessed: 10, hits: 5 });
    expect(await ahead.threadLiveStates()).toBe(0);
  });

  it('runs nothing ahead when the greedy token is one of `unless`, or with run-ahead off', async () => {
    const probe = await stateForText(plain, TEXT);
    const first = argmax(await hintedStep(plain, probe, undefined));
    probe.dispose();

    const state = await stateForText(ahead, TEXT);
    const counts = await countsDuring(ahead, async () => {
      await hintedStep(ahead, state, { kind: 'argmax', unless: [first] });
    });
    expect(counts).toEqual({ guessed: 0, hits: 0 });
    const other = await countsDuring(ahead, async () => {
      state.append(first);
      await hintedStep(ahead, state, { kind: 'argmax', unless: [(first + 1) % ahead.vocabSize] });
    });
    expect(other).toEqual({ guessed: 1, hits: 0 });
    state.dispose();

    expect(await plain.threadRunAhead()).toEqual({ guessed: 0, hits: 0 });
  });

  it('every hinted state of a batch runs ahead; each then takes or undoes its own guess', async () => {
    const texts = [TEXT, 'summarize: a dog is good for you', 'hi there'];
    const run = async (model: WorkerModel) => {
      const states = await Promise.all(texts.map((text) => stateForText(model, text)));
      states.forEach((state) => state.expectNext(GREEDY));
      const first = (await model.step(states)).map((row) => Float32Array.from(row));
      states[0]!.append(argmax(first[0]!)); // taken
      states[1]!.append((argmax(first[1]!) + 3) % model.vocabSize); // replaced
      states[2]!.dispose(); // its guess is dropped with it
      const second = (await model.step(states.slice(0, 2))).map((row) => Float32Array.from(row));
      states.slice(0, 2).forEach((state) => state.dispose());
      return [...first, ...second];
    };
    const expected = await run(plain);
    let actual: Float32Array[] = [];
    const counts = await countsDuring(ahead, async () => {
      actual = await run(ahead);
    });
    // State 0's second row comes from a run of three (the guesses) here, of two without run-ahead: equal
    // up to the float rounding that batch sizes may change.
    actual.forEach((row, index) => expectRowsClose(row, expected[index]!, 1e-5));
    expect(counts).toEqual({ guessed: 3, hits: 1 });
    expect(await ahead.threadLiveStates()).toBe(0);
  });

  it("a guess outstanding when the model is disposed goes with it", async () => {
    const model = await loadWorkerModel(tinyModels.reluUntied);
    const state = await stateForText(model, TEXT);
    await hintedStep(model, state, GREEDY);
    expect(await model.threadRunAhead()).toEqual({ guessed: 1, hits: 0 });
    await model.dispose();
    expect(state.disposed).toBe(true);
  });
});

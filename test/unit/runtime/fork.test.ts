/**
 * `DecodeState.fork`: a copy of a state's history and KV cache that then lives on its own. After a fork
 * and different appends, each state's rows equal a fresh decode of its own history; forks at one position
 * step in one batched run; disposing one leaves the other working and nothing leaks. The in-process
 * model, the worker model (whose handles replay their pending edits on the fork too) and the scheduler
 * in front of either behave alike.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadModel, StateError, type DecodeState, type ModelRuntime } from '../../../src/runtime/index.js';
import { StepScheduler } from '../../../src/runtime/step-scheduler.js';
import { loadWorkerModel, type WorkerModel } from '../../../src/runtime/worker/index.js';
import { argmax, expectRowsClose, greedyDecode, stateForText, tinyModels } from './runtime-test-kit.js';

const TEXT = 'translate English to German: The house is wonderful.';

/** The row a fresh state gets after `history` (without the start token), stepped alone. */
async function freshRow(model: ModelRuntime, history: readonly number[]): Promise<Float32Array> {
  const state = await stateForText(model, TEXT, [...history]);
  const [row] = await model.step([state]);
  const copy = Float32Array.from(row!);
  state.dispose();
  return copy;
}

function generated(state: DecodeState): number[] {
  return state.tokens.slice(1);
}

describe.each([
  ['in-process', (folder: string) => loadModel(folder), false],
  ['worker', (folder: string) => loadWorkerModel(folder), false],
  ['in-process behind the scheduler', async (folder: string) => new StepScheduler(await loadModel(folder)), true],
  ['worker behind the scheduler', async (folder: string) => new StepScheduler(await loadWorkerModel(folder)), true],
] as const)('fork on the %s model', (_, load, scheduled) => {
  let model: ModelRuntime;
  let runs: number[];

  beforeAll(async () => {
    model = await load(tinyModels.gatedUntied);
    runs = [];
    if (model instanceof StepScheduler) model.onRun((run) => run.kind === 'decoder' && runs.push(run.size));
  });
  afterAll(async () => {
    await model.dispose();
  });

  it('a fork copies history and cached length; after different appends each equals a fresh decode of its history', async () => {
    const before = model.liveStates;
    const state = await stateForText(model, TEXT);
    await greedyDecode(model, state, 4);
    const fork = state.fork();
    expect(model.liveStates).toBe(before + 2);
    expect(fork.id).not.toBe(state.id);
    expect(fork.encoded).toBe(state.encoded);
    expect(fork.tokens).toEqual(state.tokens);
    expect(fork.cachedLength).toBe(state.cachedLength);

    const [row] = await model.step([state]);
    const second = (argmax(row!) + 1) % model.info.vocabSize;
    state.append(argmax(row!));
    fork.append(second); // the fork's pending token differs from the state's
    for (let i = 0; i < 3; i++) {
      const [a, b] = await model.step([state, fork]);
      expectRowsClose(a!, await freshRow(model, generated(state)));
      expectRowsClose(b!, await freshRow(model, generated(fork)));
      state.append(argmax(a!));
      fork.append(argmax(b!));
    }
    expect(generated(fork)[4]).toBe(second);
    state.dispose();
    fork.dispose();
    expect(model.liveStates).toBe(before);
  });

  it('a fork taken after appends not yet stepped, and after a rewind, feeds them on its own first step', async () => {
    const state = await stateForText(model, TEXT);
    await greedyDecode(model, state, 5);
    state.rewind(2);
    state.append(7);
    state.append(9); // pending: the re-fed token after the rewind, then 7 and 9
    const fork = state.fork();
    expect(fork.tokens).toEqual(state.tokens);
    expect(fork.cachedLength).toBe(state.cachedLength);
    fork.append(11);
    state.append(13);
    const [a, b] = await model.step([state, fork]);
    expectRowsClose(a!, await freshRow(model, generated(state)));
    expectRowsClose(b!, await freshRow(model, generated(fork)));
    state.dispose();
    fork.dispose();
  });

  it('a fork of a fresh state (never stepped) and a fork of a fork', async () => {
    const state = await stateForText(model, TEXT, [4, 5]);
    const fork = state.fork();
    const [a, b] = await model.step([state, fork]);
    expectRowsClose(a!, b!, 0);
    fork.append(6);
    const grandchild = fork.fork();
    grandchild.append(8);
    const [c, d] = await model.step([fork, grandchild]);
    expectRowsClose(c!, await freshRow(model, [4, 5, 6]));
    expectRowsClose(d!, await freshRow(model, [4, 5, 6, 8]));
    [state, fork, grandchild].forEach((each) => each.dispose());
  });

  it('forks at the same position step in one batched run', async () => {
    const state = await stateForText(model, TEXT);
    await greedyDecode(model, state, 3);
    const forks = [state.fork(), state.fork(), state.fork()];
    const family = [state, ...forks];
    family.forEach((member, index) => member.append(3 + index));
    const start = runs.length;
    const rows = await model.step(family);
    if (scheduled) expect(runs.slice(start)).toEqual([4]);
    for (const [index, member] of family.entries()) expectRowsClose(rows[index]!, await freshRow(model, generated(member)));
    family.forEach((member) => member.dispose());
  });

  it('disposing either leaves the other working, and the live count returns to its value', async () => {
    const before = model.liveStates;
    const state = await stateForText(model, TEXT);
    await greedyDecode(model, state, 3);
    const fork = state.fork();
    state.dispose();
    const [row] = await model.step([fork]); // the token greedyDecode appended last, pending in both
    expect(row).toHaveLength(model.info.vocabSize);
    fork.append(argmax(row!));
    const [next] = await model.step([fork]);
    expectRowsClose(next!, await freshRow(model, generated(fork)));

    const other = fork.fork();
    fork.dispose();
    other.append(4);
    const [after] = await model.step([other]);
    expectRowsClose(after!, await freshRow(model, generated(other)));
    other.dispose();
    expect(model.liveStates).toBe(before);
    const inner = model instanceof StepScheduler ? model.inner : model;
    if ('threadLiveStates' in inner) expect(await (inner as WorkerModel).threadLiveStates()).toBe(before);
  });

  it('refuses to fork a disposed state or one whose step is in flight', async () => {
    const state = await stateForText(model, TEXT);
    const stepping = model.step([state]);
    if (!scheduled) expect(() => state.fork()).toThrow(StateError);
    await stepping;
    state.dispose();
    expect(() => state.fork()).toThrow(new StateError(`cannot fork: decode state ${state.id} is disposed`));
  });
});

describe('fork on the worker model with run-ahead', () => {
  let threaded: WorkerModel;
  let inProcess: ModelRuntime;

  beforeAll(async () => {
    [threaded, inProcess] = await Promise.all([loadWorkerModel(tinyModels.reluTied), loadModel(tinyModels.reluTied)]);
  });
  afterAll(async () => {
    await Promise.all([threaded.dispose(), inProcess.dispose()]);
  });

  it('a fork taken while the thread ran the next step ahead on a guess starts without the guess', async () => {
    const state = await stateForText(threaded, TEXT);
    const reference = await stateForText(inProcess, TEXT);
    for (let i = 0; i < 3; i++) {
      state.expectNext({ kind: 'argmax', unless: [] });
      const [row] = await threaded.step([state]);
      const [expected] = await inProcess.step([reference]);
      expectRowsClose(row!, expected!);
      state.append(argmax(row!));
      reference.append(argmax(expected!));
    }
    // The thread ran the step after the last row ahead on its argmax; the fork must not carry it.
    await expect.poll(async () => (await threaded.threadRunAhead()).guessed).toBeGreaterThanOrEqual(3);
    const fork = state.fork();
    fork.rewind(1);
    fork.append(5);
    const [row, forkRow] = await threaded.step([state, fork]);
    const [expected] = await inProcess.step([reference]);
    expectRowsClose(row!, expected!);
    const check = await stateForText(inProcess, TEXT, generated(fork));
    const [forkExpected] = await inProcess.step([check]);
    expectRowsClose(forkRow!, forkExpected!);
    [state, fork, reference, check].forEach((each) => each.dispose());
    expect(await threaded.threadLiveStates()).toBe(0);
  });
});

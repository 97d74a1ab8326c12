/**
 * The step scheduler batches concurrent streams into shared decoder and encoder runs, and that changes
 * nothing in any stream's results: each row equals the row of the same decode run alone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { InvalidInputError, loadModel, StateError, type ModelRuntime } from '../../../src/runtime/index.js';
import { StepScheduler } from '../../../src/runtime/step-scheduler.js';
import { loadWorkerModel } from '../../../src/runtime/worker/index.js';
import { argmax, expectRowsClose, greedyDecode, stateForText, tinyModels } from './runtime-test-kit.js';

const TEXTS = [
  'translate English to German: The house is wonderful.',
  'hi',
  'summarize: studies have shown that owning a dog is good for you',
  'translate English to French: I like tea.',
  'question: what colour is the sky? context: the sky is blue.',
];
const STEPS = 10;

/** One stream as the server runs it: encode, then step and append its greedy token, each on its own. */
async function stream(model: ModelRuntime, text: string, steps = STEPS, startAfterMs = 0) {
  if (startAfterMs > 0) await new Promise((resolve) => setTimeout(resolve, startAfterMs));
  const [encoded] = await model.encode([model.tokenizer.encode(text)]);
  const state = model.createState(encoded!);
  const rows: Float32Array[] = [];
  for (let i = 0; i < steps; i++) {
    const [row] = await model.step([state]);
    rows.push(Float32Array.from(row!));
    state.append(argmax(row!));
  }
  state.dispose();
  return rows;
}

describe.each([
  ['in-process', (folder: string) => loadModel(folder)],
  ['worker', (folder: string) => loadWorkerModel(folder)],
] as const)('the step scheduler over the %s model', (_, load) => {
  let model: ModelRuntime;
  let isolated: Float32Array[][];

  beforeAll(async () => {
    model = await load(tinyModels.reluUntied);
    isolated = [];
    for (const text of TEXTS) {
      const state = await stateForText(model, text);
      isolated.push((await greedyDecode(model, state, STEPS)).rows);
      state.dispose();
    }
  });
  afterAll(async () => {
    await model.dispose();
  });

  it('streams started together share decoder runs and each gets its isolated rows', async () => {
    const scheduler = new StepScheduler(model);
    const results = await Promise.all(TEXTS.map((text) => stream(scheduler, text)));
    results.forEach((rows, index) => rows.forEach((row, step) => expectRowsClose(row, isolated[index]![step]!)));
    // Their encodes share one run, so their first steps do too, and every later run holds them all.
    expect(scheduler.stats).toMatchObject({
      encodeRuns: 1,
      stepRuns: STEPS,
      steps: TEXTS.length * STEPS,
      batchedSteps: TEXTS.length * STEPS,
    });
    expect(model.liveStates).toBe(0);
  });

  it('encodes requested in the same turn share one encoder run and equal encoding alone', async () => {
    const scheduler = new StepScheduler(model);
    const inputs = TEXTS.map((text) => model.tokenizer.encode(text));
    const together = await Promise.all(inputs.map((ids) => scheduler.encode([ids])));
    expect(scheduler.stats).toMatchObject({ encodeRuns: 1, encodedInputs: TEXTS.length, batchedInputs: TEXTS.length });
    for (const [index, ids] of inputs.entries()) {
      const [alone] = await model.encode([ids]);
      expect(together[index]).toHaveLength(1);
      expectRowsClose(together[index]![0]!.hiddenStates, alone!.hiddenStates);
    }
  });

  it('a stream behind by a few positions runs first until it catches up, then both share runs, with unchanged rows', async () => {
    const scheduler = new StepScheduler(model, { catchUpSteps: 4, maxWaitMs: 50 });
    const [ahead, behind] = await Promise.all(TEXTS.slice(0, 2).map((text) => stateForText(scheduler, text)));
    const rows: Float32Array[][] = [[], []];
    for (let i = 0; i < 3; i++) {
      const [row] = await scheduler.step([ahead!]);
      rows[0]!.push(Float32Array.from(row!));
      ahead!.append(argmax(row!));
    }
    const before = scheduler.stats;
    const decode = async (state: typeof ahead, own: Float32Array[], steps: number) => {
      for (let i = 0; i < steps; i++) {
        const [row] = await scheduler.step([state!]);
        own.push(Float32Array.from(row!));
        state!.append(argmax(row!));
      }
      state!.dispose();
    };
    await Promise.all([decode(ahead, rows[0]!, 4), decode(behind, rows[1]!, 6)]);
    rows.forEach((own, index) => own.forEach((row, step) => expectRowsClose(row, isolated[index]![step]!)));
    // `behind` runs positions 0-2 alone while `ahead` holds at 3; they share 3-5; `ahead` runs 6 alone.
    expect(scheduler.stats.stepRuns - before.stepRuns).toBe(7);
    expect(scheduler.stats.batchedSteps - before.batchedSteps).toBe(6);
  });

  it.each([
    { catchUpSteps: undefined, runs: 10, batched: 8, outcome: 'by default (8) it catches up and they merge' },
    { catchUpSteps: 4, runs: 14, batched: 0, outcome: 'with catchUpSteps 4 they alternate and never merge' },
  ])('a stream 6 positions behind: $outcome', async ({ catchUpSteps, runs, batched }) => {
    const scheduler = new StepScheduler(model, { maxWaitMs: 50, ...(catchUpSteps !== undefined && { catchUpSteps }) });
    const [ahead, behind] = await Promise.all(TEXTS.slice(0, 2).map((text) => stateForText(scheduler, text)));
    const rows: Float32Array[][] = [[], []];
    const decode = async (state: typeof ahead, own: Float32Array[], steps: number) => {
      for (let i = 0; i < steps; i++) {
        const [row] = await scheduler.step([state!]);
        own.push(Float32Array.from(row!));
        state!.append(argmax(row!));
      }
    };
    await decode(ahead, rows[0]!, 6);
    const before = scheduler.stats;
    await Promise.all([decode(ahead, rows[0]!, 4), decode(behind, rows[1]!, 10)]);
    [ahead, behind].forEach((state) => state!.dispose());
    rows.forEach((own, index) => own.forEach((row, step) => expectRowsClose(row, isolated[index]![step]!)));
    // Merging: `behind` runs positions 0-5 alone while `ahead` holds at 6, then they share 6-9.
    expect(scheduler.stats.stepRuns - before.stepRuns).toBe(runs);
    expect(scheduler.stats.batchedSteps - before.batchedSteps).toBe(batched);
  });

  it('no run holds more than maxBatch states', async () => {
    const scheduler = new StepScheduler(model, { maxBatch: 2 });
    const results = await Promise.all(TEXTS.map((text) => stream(scheduler, text, 3)));
    results.forEach((rows, index) => rows.forEach((row, step) => expectRowsClose(row, isolated[index]![step]!)));
    expect(scheduler.stats.stepRuns).toBeGreaterThanOrEqual(Math.ceil((TEXTS.length * 3) / 2));
  });

  it('a lone stream is never held back: every one of its runs holds only its state', async () => {
    const scheduler = new StepScheduler(model, { maxWaitMs: 1_000 });
    const started = performance.now();
    const [rows] = await Promise.all([stream(scheduler, TEXTS[0]!)]);
    rows!.forEach((row, step) => expectRowsClose(row, isolated[0]![step]!));
    expect(scheduler.stats).toMatchObject({ stepRuns: STEPS, steps: STEPS, batchedSteps: 0 });
    // Not a timing assertion on the model: a single wait of maxWaitMs would already exceed this bound.
    expect(performance.now() - started).toBeLessThan(1_000);
  });
});

describe('how long the step scheduler waits for expected states', () => {
  let model: ModelRuntime;

  beforeAll(async () => {
    model = await loadModel(tinyModels.reluTied);
  });
  afterAll(async () => {
    await model.dispose();
  });

  /** Three states stepped once together, so that all three are expected at the next position. */
  async function threeStates(scheduler: StepScheduler) {
    const states = await Promise.all(TEXTS.slice(0, 3).map((text) => stateForText(scheduler, text)));
    const rows = await scheduler.step(states);
    states.forEach((state, index) => state.append(argmax(rows[index]!)));
    return states;
  }
  const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  it('streams that come back one after another all join the run, however long that takes in total', async () => {
    const scheduler = new StepScheduler(model, { maxWaitMs: 200 });
    const states = await threeStates(scheduler);
    const before = scheduler.stats;
    const rows: Promise<Float32Array[]>[] = [];
    for (const state of states) {
      rows.push(scheduler.step([state]));
      await pause(120); // each within maxWaitMs of the previous, all three well beyond it
    }
    await Promise.all(rows);
    expect(scheduler.stats.stepRuns - before.stepRuns).toBe(1);
    expect(scheduler.stats.batchedSteps - before.batchedSteps).toBe(3);
    states.forEach((state) => state.dispose());
  });

  it("a run's rows reach their streams together, before any other task, so every stream can ask for its next step first", async () => {
    const scheduler = new StepScheduler(model);
    const states = await threeStates(scheduler);
    const events: string[] = [];
    await Promise.all(
      states.map((state, index) =>
        scheduler.step([state]).then(() => {
          events.push(`row ${index}`);
          if (index === 0) setImmediate(() => events.push('another task'));
        }),
      ),
    );
    await new Promise((resolve) => setImmediate(resolve));
    expect(scheduler.stats.stepRuns).toBe(2); // the three ran together
    expect(events).toEqual(['row 0', 'row 1', 'row 2', 'another task']);
    // Each asks for its next step as it gets its row: the three again share one run.
    const before = scheduler.stats;
    const next = await Promise.all(
      states.map(async (state, index) => {
        state.append(3 + index);
        return scheduler.step([state]);
      }),
    );
    expect(next).toHaveLength(3);
    expect(scheduler.stats.stepRuns - before.stepRuns).toBe(1);
    states.forEach((state) => state.dispose());
  });

  it('a stream silent for maxWaitMs is left for a later run', async () => {
    const scheduler = new StepScheduler(model, { maxWaitMs: 20 });
    const [first, second, silent] = await threeStates(scheduler);
    const before = scheduler.stats;
    await Promise.all([scheduler.step([first!]), scheduler.step([second!])]);
    expect(scheduler.stats.stepRuns - before.stepRuns).toBe(1);
    await scheduler.step([silent!]);
    expect(scheduler.stats.stepRuns - before.stepRuns).toBe(2);
    expect(scheduler.stats.batchedSteps - before.batchedSteps).toBe(2);
    [first, second, silent].forEach((state) => state!.dispose());
  });

  it('a stream that let a run go without it is waited for no longer than a turn until it asks for a step again', async () => {
    const maxWaitMs = 500;
    const scheduler = new StepScheduler(model, { maxWaitMs });
    const [first, second, silent] = await threeStates(scheduler);
    const twoSteps = async (): Promise<void> => {
      const rows = await Promise.all([scheduler.step([first!]), scheduler.step([second!])]);
      first!.append(argmax(rows[0]![0]!));
      second!.append(argmax(rows[1]![0]!));
    };
    let started = performance.now();
    for (let run = 0; run < 4; run++) await twoSteps();
    // Not a timing assertion on the model: a second wait of maxWaitMs would already exceed this bound.
    expect(performance.now() - started).toBeLessThan(2 * maxWaitMs);
    // Once it asks again, it is expected again: the next run waits for it (it is behind, within catch-up).
    const [row] = await scheduler.step([silent!]);
    silent!.append(argmax(row!));
    started = performance.now();
    await twoSteps();
    expect(performance.now() - started).toBeGreaterThanOrEqual(maxWaitMs - 1);
    [first, second, silent].forEach((state) => state!.dispose());
  });
});

describe('the step scheduler keeps the runtime contract', () => {
  let model: ModelRuntime;
  let scheduler: StepScheduler;

  beforeAll(async () => {
    model = await loadModel(tinyModels.gatedTied);
    scheduler = new StepScheduler(model);
  });
  afterAll(async () => {
    await scheduler.dispose();
  });

  it('refuses the calls the model refuses, with its messages', async () => {
    const state = await stateForText(scheduler, 'hello');
    const stepping = scheduler.step([state]);
    await expect(scheduler.step([state])).rejects.toThrow(
      new StateError(`states[0] (decode state ${state.id}) is already stepping`),
    );
    await stepping;
    await expect(scheduler.step([state])).rejects.toThrow(
      new StateError(`states[0] (decode state ${state.id}) has no new token; append one before the next step`),
    );
    state.append(3);
    await expect(scheduler.step([state, state])).rejects.toThrow(
      new InvalidInputError('states[1] is the same decode state as states[0]; a state steps once per call'),
    );
    const foreign = await stateForText(model, 'not through the scheduler');
    await expect(scheduler.step([foreign])).rejects.toThrow(new InvalidInputError('states[0] is not a decode state of this model'));
    foreign.dispose();
    state.dispose();
    await expect(scheduler.step([state])).rejects.toThrow(new StateError(`states[0] (decode state ${state.id}) is disposed`));
    expect(scheduler.liveStates).toBe(0);
  });

  it('a bad input fails only its own encode request', async () => {
    const good = scheduler.encode([scheduler.tokenizer.encode('fine')]);
    const bad = scheduler.encode([[1, scheduler.info.vocabSize]]);
    await expect(bad).rejects.toThrow(InvalidInputError);
    await expect(good).resolves.toHaveLength(1);
  });

  it('a state disposed while it waits for its run gets an empty row and its memory is released', async () => {
    const own = new StepScheduler(model, { maxWaitMs: 10_000 });
    const [waiting, running, late] = await Promise.all(['waiting', 'running', 'late'].map((text) => stateForText(own, text)));
    await own.step([waiting!, running!, late!]);
    // All three sit at the same position: the run waits for `late` before it starts.
    waiting!.append(5);
    running!.append(5);
    const [waitingRow, runningRow] = [own.step([waiting!]), own.step([running!])];
    waiting!.dispose();
    late!.append(5);
    const lateRow = own.step([late!]);
    expect((await waitingRow)[0]).toHaveLength(0);
    expect((await runningRow)[0]).toHaveLength(own.info.vocabSize);
    expect((await lateRow)[0]).toHaveLength(own.info.vocabSize);
    expect(own.stats).toMatchObject({ stepRuns: 2, steps: 5 });
    running!.dispose();
    late!.dispose();
    expect(own.liveStates).toBe(0);
  });

  it('disposing the scheduler rejects the requests still waiting', async () => {
    const own = new StepScheduler(await loadModel(tinyModels.gatedTied), { maxWaitMs: 10_000 });
    const [first, second] = await Promise.all(['a b', 'c d'].map((text) => stateForText(own, text)));
    await own.step([first!, second!]);
    first!.append(3);
    const held = own.step([first!]); // waits for `second`, which is expected at the same position
    await own.dispose();
    await expect(held).rejects.toThrow(StateError);
    expect(own.liveStates).toBe(0);
  });

  it('rejects option values outside their ranges', () => {
    expect(() => new StepScheduler(model, { maxBatch: 0 })).toThrow(new InvalidInputError('`maxBatch` must be an integer ≥ 1; given 0'));
    expect(() => new StepScheduler(model, { maxWaitMs: -1 })).toThrow(new InvalidInputError('`maxWaitMs` must be a number ≥ 0; given -1'));
    expect(() => new StepScheduler(model, { catchUpSteps: 1.5 })).toThrow(
      new InvalidInputError('`catchUpSteps` must be an integer ≥ 0; given 1.5'),
    );
  });
});

/**
 * `score`: one pass of the decoder without cache over whole targets gives each target token the row a
 * forced decode gives it; right-padding, batching with other targets and inputs, the model thread and the
 * scheduler change nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { InvalidInputError, loadModel, ModelUnavailableError, type ModelRuntime, type ScoreTarget } from '../../../src/runtime/index.js';
import { splitScoreRuns } from '../../../src/runtime/score-runs.js';
import { StepScheduler } from '../../../src/runtime/step-scheduler.js';
import { loadWorkerModel, type WorkerModel } from '../../../src/runtime/worker/index.js';
import { expectRowsClose, maxAbsDifference, tinyModels } from './runtime-test-kit.js';

const INPUTS = ['translate English to German: The house is wonderful.', 'hi', 'summarize: a dog is good for you'];
/** Targets of different lengths (1 to 12 tokens), the last ending with EOS (id 1). */
const TARGETS = [[17, 42, 9, 300, 5, 77, 81, 12, 400, 3, 90, 1], [250], [8, 8, 8, 1], [120, 33, 64, 2, 19, 1]];
/**
 * Score rows come from the decoder without cache, forced steps from the cached one after the first: two
 * graph paths, equal up to float32 rounding.
 */
const GRAPH_TOLERANCE = 1e-5;
/**
 * The same graph over a batch of another shape (more rows, a longer padded sequence) rounds differently
 * (up to about 1e-6 on the tiny models); a pad token reaching an earlier position would change that
 * position's attention weights, not the last bits of its row.
 */
const SHAPE_TOLERANCE = 1e-5;

/** The rows a forced decode gives `tokens` after `prefix`: one step per token, each appended after its row. */
async function forcedRows(model: ModelRuntime, input: readonly number[], tokens: readonly number[], prefix: readonly number[] = []) {
  const [encoded] = await model.encode([input]);
  const state = model.createState(encoded!, prefix);
  const rows: Float32Array[] = [];
  for (const token of tokens) {
    const [row] = await model.step([state]);
    rows.push(Float32Array.from(row!));
    state.append(token);
  }
  state.dispose();
  return rows;
}

/** Row i of a target's scored rows. */
function rowOf(rows: Float32Array, i: number, vocabSize: number): Float32Array {
  return rows.subarray(i * vocabSize, (i + 1) * vocabSize);
}

describe.each([
  ['merged', tinyModels.reluUntied],
  ['split', tinyModels.gatedTied],
] as const)('scoring with the %s decoder', (layout, folder) => {
  let model: ModelRuntime;
  let vocab: number;

  beforeAll(async () => {
    model = await loadModel(folder, { decoderLayout: layout });
    vocab = model.info.vocabSize;
  });
  afterAll(async () => {
    await model.dispose();
  });

  it('each target token gets the row a forced decode gives it, with and without a decoder prefix', async () => {
    const input = model.tokenizer.encode(INPUTS[0]!);
    const [encoded] = await model.encode([input]);
    for (const prefix of [[], [33, 7]]) {
      const scored = await model.score(TARGETS.map((tokens) => ({ encoded: encoded!, prefix, tokens })));
      for (const [index, tokens] of TARGETS.entries()) {
        expect(scored[index]).toHaveLength(tokens.length * vocab);
        const forced = await forcedRows(model, input, tokens, prefix);
        forced.forEach((row, i) => expectRowsClose(rowOf(scored[index]!, i, vocab), row, GRAPH_TOLERANCE));
      }
    }
  });

  it('right-padding a target to the longest of its run changes none of its rows', async () => {
    const [encoded] = await model.encode([model.tokenizer.encode(INPUTS[0]!)]);
    const together = await model.score(TARGETS.map((tokens) => ({ encoded: encoded!, tokens })));
    for (const [index, tokens] of TARGETS.entries()) {
      const [alone] = await model.score([{ encoded: encoded!, tokens }]);
      expect(maxAbsDifference(together[index]!, alone!)).toBeLessThanOrEqual(SHAPE_TOLERANCE);
    }
  });

  it('targets of inputs of different lengths share a run and each gets its rows alone', async () => {
    const encoded = await model.encode(INPUTS.map((text) => model.tokenizer.encode(text)));
    const targets: ScoreTarget[] = encoded.flatMap((input, i) => [{ encoded: input, tokens: TARGETS[i]! }, { encoded: input, tokens: TARGETS[3]! }]);
    const together = await model.score(targets);
    for (const [index, target] of targets.entries()) {
      const [alone] = await model.score([target]);
      expect(maxAbsDifference(together[index]!, alone!)).toBeLessThanOrEqual(SHAPE_TOLERANCE);
    }
  });

  it('refuses an empty target, an id outside the vocabulary and an encoder output of another model, naming the target', async () => {
    const [encoded] = await model.encode([[5, 1]]);
    await expect(model.score([{ encoded: encoded!, tokens: [3] }, { encoded: encoded!, tokens: [] }])).rejects.toThrow(
      new InvalidInputError('targets[1].tokens must hold at least one token; given none'),
    );
    await expect(model.score([{ encoded: encoded!, tokens: [3, vocab] }])).rejects.toThrow(
      new InvalidInputError(`targets[0].tokens[1] must be an integer in [0, ${vocab}); given ${vocab}`),
    );
    await expect(model.score([{ encoded: encoded!, prefix: [-1], tokens: [3] }])).rejects.toThrow(
      new InvalidInputError(`targets[0].prefix[0] must be an integer in [0, ${vocab}); given -1`),
    );
    const other = await loadModel(folder, { decoderLayout: layout });
    const [foreign] = await other.encode([[5, 1]]);
    await expect(model.score([{ encoded: foreign!, tokens: [3] }])).rejects.toThrow(
      new InvalidInputError("targets[0].encoded must come from this model's encode()"),
    );
    await other.dispose();
  });
});

describe('scoring runs', () => {
  it('are split so that run size × longest sequence stays within the bound; a longer target runs alone', () => {
    const lengths = [3, 3, 3, 10, 2, 2, 2, 2, 2];
    const runs = splitScoreRuns(lengths, (length) => length, 9);
    expect(runs).toEqual([[3, 3, 3], [10], [2, 2, 2, 2], [2]]);
    // A longer item than all before it may close a run: [2, 2] then 5 would be 3 × 5 = 15 > 10.
    expect(splitScoreRuns([2, 2, 5, 1], (length) => length, 10)).toEqual([[2, 2], [5, 1]]);
  });
});

describe('scoring on the model thread and through the scheduler', () => {
  let inProcess: ModelRuntime;
  let worker: WorkerModel;

  beforeAll(async () => {
    [inProcess, worker] = await Promise.all([loadModel(tinyModels.reluTied), loadWorkerModel(tinyModels.reluTied)]);
  });
  afterAll(async () => {
    await Promise.all([inProcess.dispose(), worker.dispose()]);
  });

  it('the worker model returns exactly the in-process rows, in buffers of their own', async () => {
    const input = inProcess.tokenizer.encode(INPUTS[0]!);
    const [here] = await inProcess.encode([input]);
    const [there] = await worker.encode([input]);
    const expected = await inProcess.score(TARGETS.map((tokens) => ({ encoded: here!, prefix: [4], tokens })));
    const actual = await worker.score(TARGETS.map((tokens) => ({ encoded: there!, prefix: [4], tokens })));
    actual.forEach((rows, index) => {
      expect(rows).toEqual(expected[index]);
      expect(rows.byteOffset).toBe(0);
      expect(rows.buffer.byteLength).toBe(rows.byteLength);
    });
    await expect(worker.score([{ encoded: there!, tokens: [] }])).rejects.toThrow(
      new InvalidInputError('targets[0].tokens must hold at least one token; given none'),
    );
  });

  it('concurrent score calls share one run through the scheduler and each gets its own rows', async () => {
    const scheduler = new StepScheduler(worker);
    const calls = INPUTS.map(async (text, index) => {
      const [encoded] = await scheduler.encode([scheduler.tokenizer.encode(text)]);
      return scheduler.score([{ encoded: encoded!, tokens: TARGETS[index]! }, { encoded: encoded!, tokens: TARGETS[3]! }]);
    });
    const results = await Promise.all(calls);
    expect(scheduler.stats).toMatchObject({ encodeRuns: 1, scoreRuns: 1, scoredTargets: 6, sharedScoreRuns: 1 });
    for (const [index, text] of INPUTS.entries()) {
      const [encoded] = await inProcess.encode([inProcess.tokenizer.encode(text)]);
      const alone = await inProcess.score([{ encoded: encoded!, tokens: TARGETS[index]! }, { encoded: encoded!, tokens: TARGETS[3]! }]);
      results[index]!.forEach((rows, target) => expect(maxAbsDifference(rows, alone[target]!)).toBeLessThanOrEqual(SHAPE_TOLERANCE));
    }
  });

  it("one call's bad target fails that call only, before it reaches a run", async () => {
    const scheduler = new StepScheduler(worker);
    const [encoded] = await scheduler.encode([[5, 1]]);
    const good = scheduler.score([{ encoded: encoded!, tokens: [3, 4] }]);
    await expect(scheduler.score([{ encoded: encoded!, tokens: [3, 1e9] }])).rejects.toThrow(InvalidInputError);
    await expect(good).resolves.toHaveLength(1);
  });

  it('a target whose encoder output lived on a stopped thread fails with ModelUnavailableError; the calls batched with it do not', async () => {
    const restarting = await loadWorkerModel(tinyModels.reluTied, { restartDelayMs: 5 });
    const scheduler = new StepScheduler(restarting);
    const [lost] = await scheduler.encode([[5, 1]]);
    const ready = new Promise<void>((resolve) => scheduler.onStatus((event) => event.status === 'ready' && resolve()));
    await restarting.terminateThread();
    await ready;
    const [fresh] = await scheduler.encode([[5, 1]]);
    const [failing, passing] = [scheduler.score([{ encoded: lost!, tokens: [3] }]), scheduler.score([{ encoded: fresh!, tokens: [3] }])];
    await expect(failing).rejects.toThrow(ModelUnavailableError);
    await expect(passing).resolves.toHaveLength(1);
    expect(scheduler.stats.scoreRuns).toBe(1);
    await scheduler.dispose();
  });
});

/**
 * The model on its own thread behaves as the in-process model: the same logits for decodes with
 * prefixes, forced runs, rewinds and batches; the same error classes and messages; and a state's
 * memory released on both sides of the thread boundary when it is disposed.
 */
import { readdir, readFile } from 'node:fs/promises';
import { getPriority } from 'node:os';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  InvalidInputError,
  loadModel,
  ModelFolderError,
  OutOfRangeError,
  StateError,
  type DecodeState,
  type ModelRuntime,
} from '../../../src/runtime/index.js';
import { loadWorkerModel, type WorkerModel } from '../../../src/runtime/worker/index.js';
import { argmax, expectRowsClose, stateForText, tinyModels } from './runtime-test-kit.js';

const TEXTS = ['translate English to German: The house is wonderful.', 'hi', 'summarize: a dog is good for you'];

/** A script of state edits and steps, run the same way on both models; returns a copy of every row. */
async function decodeScript(model: ModelRuntime, text: string, prefix: number[] = []): Promise<Float32Array[]> {
  const state = await stateForText(model, text, prefix);
  const rows: Float32Array[] = [];
  const step = async () => {
    const [row] = await model.step([state]);
    rows.push(Float32Array.from(row!));
    return row!;
  };
  for (let i = 0; i < 5; i++) state.append(argmax(await step()));
  state.rewind(2); // the next step re-feeds the last kept token
  await step();
  state.append(7);
  state.append(11);
  state.append(13); // a forced run: three tokens fed by one step
  state.append(argmax(await step()));
  state.rewind(state.tokens.length - 1); // back to the start token
  for (let i = 0; i < 3; i++) state.append(argmax(await step()));
  state.append(5);
  state.rewind(1); // drops a token that was never stepped
  state.append(argmax(await step()));
  await step();
  state.rewind(1, { keepLastCached: true }); // takes back a stepped token, keeping the cache whole
  state.append(9);
  await step();
  state.dispose();
  return rows;
}

describe.each([
  ['merged', tinyModels.reluUntied],
  ['split', tinyModels.gatedTied],
] as const)('the worker model with the %s decoder', (layout, folder) => {
  let inProcess: ModelRuntime;
  let threaded: WorkerModel;

  beforeAll(async () => {
    [inProcess, threaded] = await Promise.all([
      loadModel(folder, { decoderLayout: layout }),
      loadWorkerModel(folder, { decoderLayout: layout }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([inProcess.dispose(), threaded.dispose()]);
  });

  it('reports the same model description as the in-process model', () => {
    expect(threaded.info.name).toBe(inProcess.info.name);
    expect(threaded.info.decoderLayout).toBe(layout);
    expect(threaded.info.config).toEqual(inProcess.info.config);
    expect(threaded.info.generation).toEqual(inProcess.info.generation);
    expect(threaded.info.specialIds).toEqual(inProcess.info.specialIds);
    expect(threaded.info.vocabSize).toBe(inProcess.info.vocabSize);
    expect(threaded.info.maxInputLength).toBe(inProcess.info.maxInputLength);
    expect(threaded.tokenizer.encode(TEXTS[0]!)).toEqual(inProcess.tokenizer.encode(TEXTS[0]!));
  });

  it('encodes to the same hidden states, alone and in a padded batch', async () => {
    const inputs = TEXTS.map((text) => inProcess.tokenizer.encode(text));
    const [expected, actual] = await Promise.all([inProcess.encode(inputs), threaded.encode(inputs)]);
    actual.forEach((encoded, index) => {
      expect(encoded.inputIds).toEqual(inputs[index]);
      expectRowsClose(encoded.hiddenStates, expected[index]!.hiddenStates, 0);
    });
  });

  it('steps, forced runs, rewinds and prefixes give the rows the in-process model gives', async () => {
    for (const [text, prefix] of [[TEXTS[0]!, []], [TEXTS[2]!, [4, 9]]] as const) {
      const expected = await decodeScript(inProcess, text, [...prefix]);
      const actual = await decodeScript(threaded, text, [...prefix]);
      expect(actual).toHaveLength(expected.length);
      actual.forEach((row, index) => expectRowsClose(row, expected[index]!, 1e-6));
    }
  });

  it('a batch of states at different positions gets each state its in-process row', async () => {
    const run = async (model: ModelRuntime) => {
      const states = await Promise.all(TEXTS.map((text) => stateForText(model, text)));
      const rows: Float32Array[] = [];
      for (let step = 0; step < 4; step++) {
        // State 0 runs ahead on its own first, so the batch mixes positions.
        if (step < 2) states[0]!.append(argmax((await model.step([states[0]!]))[0]!));
        const batch = await model.step(states);
        batch.forEach((row, index) => {
          rows.push(Float32Array.from(row));
          states[index]!.append(argmax(row));
        });
      }
      states.forEach((state) => state.dispose());
      return rows;
    };
    const [expected, actual] = [await run(inProcess), await run(threaded)];
    actual.forEach((row, index) => expectRowsClose(row, expected[index]!, 1e-6));
  });

  it("each state's rows are views of its own two slots of shared memory, used in turn", async () => {
    const states = await Promise.all(TEXTS.map((text) => stateForText(threaded, text)));
    const rows = await threaded.step(states);
    expect(rows.every((row) => row.buffer instanceof SharedArrayBuffer && row.length === threaded.vocabSize)).toBe(true);
    // Slots of one shared chunk: no two rows overlap.
    expect(rows.every((row) => row.buffer === rows[0]!.buffer)).toBe(true);
    expect(new Set(rows.map((row) => row.byteOffset)).size).toBe(3);
    const first = Float32Array.from(rows[1]!);
    states.forEach((state, index) => state.append(argmax(rows[index]!)));
    const next = await threaded.step(states);
    // The next step writes each state's other slot: row t is untouched while step t + 1 runs and after.
    const offsets = new Set([...rows, ...next].map((row) => row.byteOffset));
    expect(offsets.size).toBe(6);
    expect(Array.from(rows[1]!)).toEqual(Array.from(first));
    expect(Array.from(next[1]!)).not.toEqual(Array.from(first));
    // The step after next reuses the first slot: the same memory, nothing allocated per step.
    states.forEach((state, index) => state.append(argmax(next[index]!)));
    const third = await threaded.step(states);
    third.forEach((row, index) => expect(row).toBe(rows[index]));
    expect(Array.from(third[1]!)).not.toEqual(Array.from(first));
    states.forEach((state) => state.dispose());
  });
});

describe('the worker model raises the in-process errors', () => {
  let inProcess: ModelRuntime;
  let threaded: WorkerModel;

  beforeAll(async () => {
    [inProcess, threaded] = await Promise.all([loadModel(tinyModels.reluTied), loadWorkerModel(tinyModels.reluTied)]);
  });
  afterAll(async () => {
    await Promise.all([inProcess.dispose(), threaded.dispose()]);
  });

  /** The error (class and message) a call raises on a model, sync or async. */
  async function errorOf(model: ModelRuntime, call: (model: ModelRuntime) => unknown): Promise<Error> {
    try {
      await call(model);
    } catch (error) {
      return error as Error;
    }
    throw new Error('the call did not fail');
  }

  it.each([
    ['an id outside the vocabulary in encode', InvalidInputError, (m: ModelRuntime) => m.encode([[1, m.info.vocabSize]])],
    ['an empty encoder input', InvalidInputError, (m: ModelRuntime) => m.encode([[]])],
    ['an input longer than maxInputLength', InvalidInputError, (m: ModelRuntime) => m.encode([new Array(m.info.maxInputLength + 1).fill(5)])],
    [
      'a bad decoder prefix',
      InvalidInputError,
      async (m: ModelRuntime) => m.createState((await m.encode([[5, 1]]))[0]!, [-1]),
    ],
  ] as const)('%s', async (_, errorClass, call) => {
    const expected = await errorOf(inProcess, call);
    const actual = await errorOf(threaded, call);
    expect(expected).toBeInstanceOf(errorClass);
    expect(actual).toBeInstanceOf(errorClass);
    expect(actual.message).toBe(expected.message);
  });

  it.each([
    ['rewinding past the start token', OutOfRangeError, (state: DecodeState) => state.rewind(3)],
    ['appending an id outside the vocabulary', InvalidInputError, (state: DecodeState) => state.append(-4)],
    ['appending to a disposed state', StateError, (state: DecodeState) => (state.dispose(), state.append(3))],
  ] as const)('%s', async (_, errorClass, edit) => {
    const failures = await Promise.all(
      [inProcess, threaded].map(async (model) => {
        const state = await stateForText(model, 'hello');
        await model.step([state]);
        state.append(4);
        const error = await errorOf(model, () => edit(state));
        state.dispose();
        return error;
      }),
    );
    expect(failures[0]).toBeInstanceOf(errorClass);
    expect(failures[1]).toBeInstanceOf(errorClass);
    expect(failures[1]!.message).toBe(failures[0]!.message);
  });

  it('stepping a state twice at once, without a new token, or from another model', async () => {
    const messages = await Promise.all(
      [inProcess, threaded].map(async (model) => {
        const state = await stateForText(model, 'hello');
        const first = model.step([state]);
        const twice = await errorOf(model, () => model.step([state]));
        const appendWhileStepping = await errorOf(model, () => state.append(3));
        await first;
        const noToken = await errorOf(model, () => model.step([state]));
        const foreign = await errorOf(model, async () => model.step([await stateForText(model === inProcess ? threaded : inProcess, 'x')]));
        state.dispose();
        return [twice, appendWhileStepping, noToken, foreign].map((error) => `${error.name}: ${error.message}`);
      }),
    );
    expect(messages[1]).toEqual(messages[0]);
  });

  it('ONNX Runtime options reach the thread: one thread, no arena, no spinning give the same rows', async () => {
    const tuned = await loadWorkerModel(tinyModels.reluTied, { intraOpNumThreads: 1, enableCpuMemArena: false, intraOpSpinning: 'off' });
    try {
      const expected = await decodeScript(inProcess, TEXTS[0]!);
      const actual = await decodeScript(tuned, TEXTS[0]!);
      actual.forEach((row, index) => expectRowsClose(row, expected[index]!, 1e-5));
    } finally {
      await tuned.dispose();
    }
  });

  it('an option outside its range is refused with the in-process message', async () => {
    const options = { intraOpSpinning: 'yes' as unknown as 'off' };
    const expected = await errorOf(inProcess, () => loadModel(tinyModels.reluTied, options));
    const loading = loadWorkerModel(tinyModels.reluTied, options);
    await expect(loading).rejects.toThrow(expected);
    await expect(loading).rejects.toBeInstanceOf(InvalidInputError);
    expect(expected).toEqual(new InvalidInputError('`intraOpSpinning` must be one of during-runs, always, off; given "yes"'));
  });

  it('the thread-only options are checked too: run-ahead on or off, a nice value in [0, 19]', async () => {
    await expect(loadWorkerModel(tinyModels.reluTied, { threadNice: 20 })).rejects.toThrow(
      new InvalidInputError('`threadNice` must be an integer in [0, 19]; given 20'),
    );
    await expect(loadWorkerModel(tinyModels.reluTied, { runAhead: 'yes' as unknown as boolean })).rejects.toThrow(
      new InvalidInputError('`runAhead` must be true or false; given "yes"'),
    );
  });

  it.runIf(process.platform === 'linux')(
    'on Linux the model thread and the ONNX Runtime threads it starts run at the nice value added, this thread at its own',
    async () => {
      const niceOfThreads = async (): Promise<number[]> => {
        const tasks = await readdir('/proc/self/task');
        const stats = await Promise.all(tasks.map((task) => readFile(`/proc/self/task/${task}/stat`, 'utf8')));
        // Field 19 of stat is the nice value; the fields after the parenthesised name start at field 3.
        return stats.map((stat) => Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]));
      };
      const own = getPriority(0);
      const added = 7;
      const before = (await niceOfThreads()).filter((nice) => nice === own + added).length;
      const reniced = await loadWorkerModel(tinyModels.reluTied, { threadNice: added, intraOpNumThreads: 2 });
      try {
        const after = (await niceOfThreads()).filter((nice) => nice === own + added).length;
        // The model thread itself and ONNX Runtime's intra-op thread at least.
        expect(after - before).toBeGreaterThanOrEqual(2);
        expect(getPriority(0)).toBe(own);
      } finally {
        await reniced.dispose();
      }
    },
  );

  it('a broken model folder rejects with ModelFolderError', async () => {
    await expect(loadWorkerModel('/nonexistent/stepwise-model')).rejects.toThrow(
      new ModelFolderError('/nonexistent/stepwise-model', 'model folder does not exist'),
    );
  });
});

describe('worker model state lifecycle', () => {
  let threaded: WorkerModel;

  beforeAll(async () => {
    threaded = await loadWorkerModel(tinyModels.gatedTied);
  });
  afterAll(async () => {
    await threaded.dispose();
  });

  it("a disposed state's cache is released on the thread as well: both counts return to 0", async () => {
    const states = await Promise.all(TEXTS.map((text) => stateForText(threaded, text)));
    await threaded.step(states);
    expect(threaded.liveStates).toBe(3);
    expect(await threaded.threadLiveStates()).toBe(3);
    states.forEach((state) => state.dispose());
    expect(threaded.liveStates).toBe(0);
    expect(await threaded.threadLiveStates()).toBe(0);
  });

  it('a state disposed while its step runs gets an empty row and is not counted', async () => {
    const kept = await stateForText(threaded, 'kept');
    const cancelled = await stateForText(threaded, 'cancelled');
    const stepping = threaded.step([kept, cancelled]);
    cancelled.dispose();
    const [keptRow, cancelledRow] = await stepping;
    expect(keptRow).toHaveLength(threaded.vocabSize);
    expect(cancelledRow).toHaveLength(0);
    kept.dispose();
    expect(await threaded.threadLiveStates()).toBe(0);
  });

  it('disposing the model disposes its states and refuses later calls', async () => {
    const shortLived = await loadWorkerModel(tinyModels.gatedTied);
    const state = await stateForText(shortLived, 'hello');
    await shortLived.dispose();
    expect(state.disposed).toBe(true);
    expect(shortLived.liveStates).toBe(0);
    await expect(shortLived.encode([[5, 1]])).rejects.toThrow(StateError);
  });
});

/**
 * A model thread that stops on its own is restarted (a bounded number of times, with growing pauses),
 * and the model says so through its status events; what lived on the stopped thread is lost, and every
 * request that meets it fails with `ModelUnavailableError`. A deliberate `dispose` is no failure.
 */
import { rename } from 'node:fs/promises';

import { afterEach, describe, expect, it } from 'vitest';

import {
  InvalidInputError,
  ModelFolderError,
  ModelUnavailableError,
  StateError,
  type ModelRuntime,
  type ModelStatusEvent,
} from '../../../src/runtime/index.js';
import { StepScheduler } from '../../../src/runtime/step-scheduler.js';
import { loadWorkerModel, type WorkerModel, type WorkerModelOptions } from '../../../src/runtime/worker/index.js';
import { copyModelFolder, greedyDecode, stateForText, tinyModels } from './runtime-test-kit.js';

const TEXT = 'translate English to German: The house is wonderful.';
const SLACK_MS = 2;

/** Every model a test loads, disposed after it whatever happened. */
const models: ModelRuntime[] = [];
afterEach(async () => {
  await Promise.all(models.splice(0).map((model) => model.dispose()));
});

async function load(dir: string, options: WorkerModelOptions = {}): Promise<WorkerModel> {
  const model = await loadWorkerModel(dir, { restartDelayMs: 5, ...options });
  models.push(model);
  return model;
}

/** Records every status event of `model`; `until` resolves at the first event with `status`. */
function recordStatus(model: ModelRuntime) {
  const events: ModelStatusEvent[] = [];
  const waiters: Array<() => void> = [];
  model.onStatus((event) => {
    events.push(event);
    waiters.splice(0).forEach((wake) => wake());
  });
  const until = async (status: ModelStatusEvent['status'], timeoutMs = 10_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    while (!events.some((event) => event.status === status)) {
      if (Date.now() > deadline) throw new Error(`no ${status} event in ${timeoutMs} ms; seen ${JSON.stringify(events)}`);
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  };
  return { events, until };
}

describe('a worker model whose thread stops', () => {
  it('restarts it: status restarting (with the cause), then ready, and the new thread decodes the same rows', async () => {
    const model = await load(tinyModels.reluTied);
    const before = await greedyDecode(model, await stateForText(model, TEXT), 5);
    const { events, until } = recordStatus(model);
    expect(model.status).toBe('ready');

    await model.terminateThread();
    expect(model.status).toBe('restarting');
    await until('ready');

    expect(events.map(({ status, attempt }) => ({ status, attempt }))).toEqual([
      { status: 'restarting', attempt: 0 },
      { status: 'ready', attempt: 1 },
    ]);
    expect(events[0]!.cause).toBeInstanceOf(ModelUnavailableError);
    expect(events[0]!.cause!.message).toBe('the model thread stopped (it exited with code 1); the request can be retried once the model is back');
    expect(model.status).toBe('ready');
    const state = await stateForText(model, TEXT);
    const after = await greedyDecode(model, state, 5);
    expect(after.tokens).toEqual(before.tokens);
    expect(after.rows).toEqual(before.rows);
    state.dispose();
    expect(await model.threadLiveStates()).toBe(0);
  });

  it("loses what lived on it: its states' steps and states from its encoder outputs fail with ModelUnavailableError; disposing them frees them", async () => {
    const model = await load(tinyModels.reluTied);
    const state = await stateForText(model, TEXT);
    await model.step([state]);
    state.append(5);
    const [encoded] = await model.encode([model.tokenizer.encode('hello')]);
    const { until } = recordStatus(model);

    await model.terminateThread();
    // While the thread restarts, every request fails the same way.
    await expect(model.encode([[5, 1]])).rejects.toThrow(
      new ModelUnavailableError('the model thread stopped (it exited with code 1; it is being restarted); the request can be retried once the model is back'),
    );
    await until('ready');

    await expect(model.step([state])).rejects.toThrow(
      new ModelUnavailableError(
        `the model thread stopped (it exited with code 1; decode state ${state.id} was on it); the request can be retried once the model is back`,
      ),
    );
    expect(() => model.createState(encoded!)).toThrow(
      new ModelUnavailableError('the model thread stopped (it exited with code 1; the encoder output was on it); the request can be retried once the model is back'),
    );
    expect(model.liveStates).toBe(1);
    state.dispose();
    expect(model.liveStates).toBe(0);
    // The new thread knows nothing of it, and serves new states as usual.
    const fresh = await stateForText(model, TEXT);
    await model.step([fresh]);
    expect(await model.threadLiveStates()).toBe(1);
    fresh.dispose();
    expect(await model.threadLiveStates()).toBe(0);
  });

  it('tries restartAttempts times, pausing longer each time, then reports failed; requests keep failing with ModelUnavailableError', async () => {
    const folder = await copyModelFolder(tinyModels.reluTied);
    const model = await load(folder, { restartAttempts: 3, restartDelayMs: 20 });
    const { events, until } = recordStatus(model);
    const stoppedAt = performance.now();
    const times: number[] = [];
    model.onStatus(() => times.push(performance.now() - stoppedAt));

    await rename(folder, `${folder}.moved`);
    try {
      await model.terminateThread();
      await until('failed');
    } finally {
      await rename(`${folder}.moved`, folder);
    }

    expect(events.map(({ status, attempt }) => ({ status, attempt }))).toEqual([
      { status: 'restarting', attempt: 0 },
      { status: 'restarting', attempt: 1 },
      { status: 'restarting', attempt: 2 },
      { status: 'failed', attempt: 3 },
    ]);
    for (const event of events.slice(1)) {
      expect(event.cause).toBeInstanceOf(ModelFolderError);
      expect(event.cause!.message).toBe(`${folder}: model folder does not exist`);
    }
    // Pauses of 20, 40 and 80 ms before the attempts: each attempt ends at least that long after the last
    // (lower bounds only; timers may fire up to a millisecond early by the performance clock).
    expect(times[1]!).toBeGreaterThanOrEqual(20 - SLACK_MS);
    expect(times[2]! - times[1]!).toBeGreaterThanOrEqual(40 - SLACK_MS);
    expect(times[3]! - times[2]!).toBeGreaterThanOrEqual(80 - SLACK_MS);
    expect(model.status).toBe('failed');
    await expect(model.encode([[5, 1]])).rejects.toThrow(
      new ModelUnavailableError(
        `the model thread stopped (it exited with code 1; 3 restart attempts failed, the last with: ${folder}: model folder does not exist); ` +
          'the request can be retried once the model is back',
      ),
    );
    await expect(model.warmUp()).rejects.toBeInstanceOf(ModelUnavailableError);
    // A model that gave up is still disposed cleanly, and says so afterwards.
    await model.dispose();
    await expect(model.encode([[5, 1]])).rejects.toBeInstanceOf(StateError);
  });

  it('with restartAttempts 0 it reports failed at once', async () => {
    const model = await load(tinyModels.reluTied, { restartAttempts: 0 });
    const { events, until } = recordStatus(model);
    await model.terminateThread();
    await until('failed');
    expect(events.map(({ status, attempt }) => ({ status, attempt }))).toEqual([{ status: 'failed', attempt: 0 }]);
    await expect(model.encode([[5, 1]])).rejects.toThrow(/^the model thread stopped \(it exited with code 1; restarts are off\)/);
  });

  it('disposing the model is no failure: no status event, no restart', async () => {
    const model = await load(tinyModels.reluTied);
    const { events } = recordStatus(model);
    const state = await stateForText(model, TEXT);
    await model.step([state]);
    await model.dispose();
    expect(events).toEqual([]);
    expect(model.status).toBe('ready');
    expect(state.disposed).toBe(true);
  });

  it('disposing the model while it restarts stops the restart', async () => {
    const model = await load(tinyModels.reluTied, { restartDelayMs: 10_000 });
    const { events } = recordStatus(model);
    await model.terminateThread();
    await model.dispose();
    expect(events.map((event) => event.status)).toEqual(['restarting']);
  });

  it('the restart options are checked', async () => {
    await expect(loadWorkerModel(tinyModels.reluTied, { restartAttempts: -1 })).rejects.toThrow(
      new InvalidInputError('`restartAttempts` must be an integer ≥ 0; given -1'),
    );
    await expect(loadWorkerModel(tinyModels.reluTied, { restartDelayMs: Number.NaN })).rejects.toThrow(
      new InvalidInputError('`restartDelayMs` must be a number ≥ 0; given NaN'),
    );
  });
});

describe('the step scheduler in front of a worker model whose thread stops', () => {
  it('reports the status events and fails the lost states without holding up the states made after the restart', async () => {
    const worker = await load(tinyModels.gatedTied);
    const scheduler = new StepScheduler(worker, { maxWaitMs: 1_000 });
    const { events, until } = recordStatus(scheduler);
    const first = await stateForText(scheduler, TEXT);
    const reference = await greedyDecode(scheduler, first, 3);
    first.dispose();
    const lost = await stateForText(scheduler, TEXT);
    await scheduler.step([lost]);
    lost.append(4);

    await worker.terminateThread();
    expect(scheduler.status).toBe('restarting');
    await until('ready');
    expect(events.map((event) => event.status)).toEqual(['restarting', 'ready']);

    // A new state at the lost state's position: were they batched together, both would fail, and with a
    // long maxWaitMs a wait for the lost state would hold the new one back.
    const fresh = await stateForText(scheduler, TEXT);
    const [lostStep, freshRun] = await Promise.allSettled([scheduler.step([lost]), greedyDecode(scheduler, fresh, 3)]);
    expect(lostStep.status === 'rejected' && lostStep.reason).toBeInstanceOf(ModelUnavailableError);
    expect(freshRun.status === 'fulfilled' && freshRun.value.rows).toEqual(reference.rows);
    lost.dispose();
    fresh.dispose();
    expect(scheduler.liveStates).toBe(0);
    await scheduler.dispose();
  });

  it("a step waiting in the scheduler when the thread stops fails with ModelUnavailableError", async () => {
    const worker = await load(tinyModels.gatedTied);
    const scheduler = new StepScheduler(worker, { maxWaitMs: 10_000 });
    const [a, b] = await Promise.all([stateForText(scheduler, TEXT), stateForText(scheduler, 'hello')]);
    await scheduler.step([a, b]);
    a.append(4);
    b.append(4);
    // `a` waits for `b`, expected to join its run (maxWaitMs is long).
    const waiting = scheduler.step([a]);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await worker.terminateThread();
    await expect(waiting).rejects.toThrow(new RegExp(`^the model thread stopped \\(it exited with code 1; decode state ${a.id} was on it\\)`));
    a.dispose();
    b.dispose();
    await scheduler.dispose();
  });
});

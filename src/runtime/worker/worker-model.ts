/**
 * A `ModelRuntime` whose ONNX sessions live in one worker thread, so the thread that serves gRPC never
 * blocks on a decoder run. It behaves as the in-process model does (same results, same errors, same
 * state rules); only where the work happens differs.
 *
 * ```ts
 * const model = await loadWorkerModel('.cache/models/t5-small', { intraOpNumThreads: 1 });
 * const [encoded] = await model.encode([model.tokenizer.encode('translate English to German: Hi')]);
 * const state = model.createState(encoded);
 * const [logits] = await model.step([state]);   // a view of shared memory the thread copied the row into
 * state.append(argmax(logits));                 // recorded here, replayed on the thread by the next step
 * state.dispose();
 * await model.dispose();                        // releases the sessions and ends the thread
 * ```
 *
 * One thread serves the whole model: concurrent runs of one native library from several workers are
 * reported to crash, and a second thread would only compete for the same cores. Batching many
 * sequences into one run (`StepScheduler`) is how throughput grows.
 *
 * A thread that stops on its own (a native crash, running out of memory) is restarted on the same folder
 * with the same options, a bounded number of times with a growing pause, and warmed up before the model
 * is `ready` again; `onStatus` reports each transition. Meanwhile, and for every decode state and encoder
 * output that lived on the stopped thread, requests fail with `ModelUnavailableError`.
 */
import { resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { isDeepStrictEqual } from 'node:util';

import { InvalidInputError, ModelUnavailableError, StateError } from '../errors.js';
import { checkTokenIds } from '../id-validation.js';
import { checkScoreTargets } from '../score-runs.js';
import { checkStepStates } from '../step-checks.js';
import { HuggingFaceTextTokenizer } from '../text-tokenizer.js';
import type {
  DecodeState,
  EncodedInput,
  LoadModelOptions,
  ModelInfo,
  ModelRuntime,
  ModelStatus,
  ModelStatusEvent,
  ModelStatusListener,
  ScoreTarget,
} from '../types.js';
import { RowSlotReader } from './row-slots.js';
import { type ThreadCall, ThreadChannel, type ThreadDeath } from './thread-channel.js';
import { WorkerDecodeState, type WorkerStateOwner } from './worker-decode-state.js';
import { WorkerEncodedInput } from './worker-encoded-input.js';
import { type ModelThreadData, restoreError, type RunAheadStats, type ThreadMemoryUsage } from './worker-protocol.js';

/**
 * Where a model on its own thread departs from `loadModel`'s defaults: the thread never tokenizes, so it
 * keeps no vocabulary; its heap stays small, and the full collections that every run's output tensors
 * trigger there stay short (they pause the decoder). Spinning keeps `loadModel`'s default (`during-runs`).
 */
export const WORKER_LOAD_DEFAULTS: LoadModelOptions = { tokenizer: 'facts' };

/** `loadModel`'s options, and what only a model on its own thread does. */
export interface WorkerModelOptions extends LoadModelOptions {
  /**
   * Whether the thread runs a state's next step ahead, on the token its caller expects
   * (`DecodeState.expectNext`), instead of idling until it is asked (`run-ahead.ts`); default true.
   */
  readonly runAhead?: boolean;
  /**
   * Nice value added, on Linux, to the model thread and to the ONNX Runtime threads it starts, in [0, 19];
   * default 5 (`DEFAULT_THREAD_NICE`). When the serving thread and a decoder run both want a core, the
   * serving thread then gets it first: health checks and the event loop stay prompt while sixteen streams
   * decode back to back, and the runs take every cycle left. Other platforms set niceness per process,
   * so there it is not applied.
   */
  readonly threadNice?: number;
  /**
   * How many times a model thread that stopped on its own is restarted before the model gives up (status
   * `failed`); default 3, 0: never.
   */
  readonly restartAttempts?: number;
  /** Pause before the first restart attempt, in milliseconds, doubled before each next one; default 250. */
  readonly restartDelayMs?: number;
}

/** `WorkerModelOptions.threadNice` by default: what the benchmark measured (bench/README.md). */
export const DEFAULT_THREAD_NICE = 5;

/**
 * Restarts by default: three attempts, 250, 500 and 1,000 ms after the stop, the last one ending about
 * two seconds after it (a load takes a fraction of that for t5-small), so a crash that repeats at once
 * does not spin, and one that does not repeat costs clients little more than a load.
 */
export const DEFAULT_RESTART = { restartAttempts: 3, restartDelayMs: 250 } as const;

/** Loads a model folder into a new model thread; the folder's problems reject as `ModelFolderError`. */
export async function loadWorkerModel(dir: string, options: WorkerModelOptions = {}): Promise<WorkerModel> {
  const folder = resolve(dir);
  const {
    runAhead = true,
    threadNice = DEFAULT_THREAD_NICE,
    restartAttempts = DEFAULT_RESTART.restartAttempts,
    restartDelayMs = DEFAULT_RESTART.restartDelayMs,
    ...load
  } = options;
  if (typeof runAhead !== 'boolean') throw new InvalidInputError(`\`runAhead\` must be true or false; given ${JSON.stringify(runAhead)}`);
  if (!Number.isInteger(threadNice) || threadNice < 0 || threadNice > 19) {
    throw new InvalidInputError(`\`threadNice\` must be an integer in [0, 19]; given ${String(threadNice)}`);
  }
  if (!Number.isInteger(restartAttempts) || restartAttempts < 0) {
    throw new InvalidInputError(`\`restartAttempts\` must be an integer ≥ 0; given ${String(restartAttempts)}`);
  }
  if (typeof restartDelayMs !== 'number' || !Number.isFinite(restartDelayMs) || restartDelayMs < 0) {
    throw new InvalidInputError(`\`restartDelayMs\` must be a number ≥ 0; given ${String(restartDelayMs)}`);
  }
  const data: ModelThreadData = { dir: folder, options: { ...WORKER_LOAD_DEFAULTS, ...load }, runAhead, threadNice };
  const { channel, info } = await ThreadChannel.open(data);
  try {
    return new WorkerModel(channel, info, await HuggingFaceTextTokenizer.load(folder), { data, attempts: restartAttempts, delayMs: restartDelayMs });
  } catch (error) {
    await channel.close();
    throw error;
  }
}

/** How a `WorkerModel` starts a new thread when its thread stops on its own. */
export interface ThreadRestart {
  /** What the first thread started with; every new one starts with the same. */
  readonly data: ModelThreadData;
  readonly attempts: number;
  /** Pause before attempt 1, doubled before each next one. */
  readonly delayMs: number;
}

/**
 * One model thread, as the main thread holds it. Encoder outputs and decode states name the link of the
 * thread they live on: after a restart, those of the stopped thread are told apart from the new ones.
 */
interface ThreadLink {
  readonly channel: ThreadChannel;
  readonly rowSlots: RowSlotReader;
  /** Set when this thread died on its own. */
  death?: ThreadDeath;
}

export class WorkerModel implements ModelRuntime, WorkerStateOwner {
  private readonly live = new Set<WorkerDecodeState>();
  /** The thread serving now; undefined while restarting or after every restart failed. */
  private link: ThreadLink | undefined;
  /** The last thread that died on its own, and why the restarts failed when they all did. */
  private outage: { readonly death: ThreadDeath; failure?: string } | undefined;
  private currentStatus: ModelStatus = 'ready';
  private readonly listeners = new Set<ModelStatusListener>();
  private recovery: Promise<void> | undefined;
  /** Cuts a restart's pause short when the model is disposed. */
  private readonly disposal = new AbortController();
  private nextStateId = 1;
  private isDisposed = false;
  /** Tells the thread when the main thread no longer holds an encoder output, so it can drop its copy. */
  private readonly encodedReleases = new FinalizationRegistry<{ readonly link: ThreadLink; readonly encodedId: number }>(({ link, encodedId }) => {
    // A stopped thread's channel sends nothing: its outputs are gone with it.
    link.channel.post({ kind: 'release-encoded', encodedIds: [encodedId] });
  });

  constructor(
    channel: ThreadChannel,
    readonly info: ModelInfo,
    readonly tokenizer: HuggingFaceTextTokenizer,
    private readonly restart: ThreadRestart,
  ) {
    this.attach(channel);
  }

  /** Logits width; states check appended ids against it (`WorkerStateOwner`). */
  get vocabSize(): number {
    return this.info.vocabSize;
  }

  get liveStates(): number {
    return this.live.size;
  }

  get status(): ModelStatus {
    return this.currentStatus;
  }

  onStatus(listener: ModelStatusListener): () => void {
    // A wrapper per subscription, so the same function subscribed twice is called twice and removed once.
    const subscription: ModelStatusListener = (event) => listener(event);
    this.listeners.add(subscription);
    return () => this.listeners.delete(subscription);
  }

  /**
   * Ends the model thread as a crash would, for tests and drills: the thread exits (code 1) once the
   * requests already sent to it are done, requests still waiting fail with `ModelUnavailableError`, the
   * status goes `restarting`, and the thread is restarted as after any crash. Resolves once the thread
   * is gone and the status says so (not once it is back: watch `onStatus`).
   */
  async terminateThread(): Promise<void> {
    this.checkOpen('terminate the model thread');
    await this.link?.channel.kill();
  }

  /** Decode states alive on the model thread; equals `liveStates` once every disposal has reached it. */
  async threadLiveStates(): Promise<number> {
    const reply = await this.request('count the thread\'s states', { kind: 'live-states' });
    if (reply.kind === 'failed') throw restoreError(reply.error);
    return reply.kind === 'done' ? (reply.value ?? 0) : 0;
  }

  /**
   * The model thread's memory (its heap, and the buffers that hold every cache), after a full garbage
   * collection when the process was started with `--expose-gc`. For measurements: the main thread's
   * `process.memoryUsage()` and `gc()` do not reach the thread's heap.
   */
  async threadMemory(): Promise<ThreadMemoryUsage> {
    const reply = await this.request('measure the thread\'s memory', { kind: 'memory' });
    if (reply.kind === 'failed') throw restoreError(reply.error);
    if (reply.kind !== 'memory') throw new Error(`the model thread answered a memory request with ${reply.kind}`);
    return reply.usage;
  }

  /** How many steps the thread ran ahead on an expected token, and how many of them were then taken. */
  async threadRunAhead(): Promise<RunAheadStats> {
    const reply = await this.request('read the thread\'s run-ahead counts', { kind: 'run-ahead-stats' });
    if (reply.kind === 'failed') throw restoreError(reply.error);
    if (reply.kind !== 'run-ahead') throw new Error(`the model thread answered a run-ahead request with ${reply.kind}`);
    return reply.stats;
  }

  async encode(inputs: readonly (readonly number[])[]): Promise<EncodedInput[]> {
    const link = this.serving('encode');
    if (!Array.isArray(inputs)) {
      throw new InvalidInputError(`\`inputs\` must be an array of token id arrays; given ${typeof inputs}`);
    }
    if (inputs.length === 0) return [];
    // The thread checks the ids (with the in-process model's messages); errors come back as their class.
    const reply = await link.channel.request({ kind: 'encode', inputs });
    if (reply.kind === 'failed') throw restoreError(reply.error);
    if (reply.kind !== 'encoded') throw new Error(`the model thread answered an encode with ${reply.kind}`);
    return reply.encodedIds.map((encodedId, index) => {
      const encoded = new WorkerEncodedInput(this, link, encodedId, [...inputs[index]!], reply.hiddenStates[index]!, reply.encodeMs);
      this.encodedReleases.register(encoded, { link, encodedId });
      return encoded;
    });
  }

  createState(encoded: EncodedInput, decoderPrefix: readonly number[] = []): DecodeState {
    this.checkOpen('create a decode state');
    if (!(encoded instanceof WorkerEncodedInput) || encoded.owner !== this) {
      throw new InvalidInputError('`encoded` must come from this model\'s encode()');
    }
    const link = encoded.thread as ThreadLink;
    if (link !== this.link) throw lost(link, 'the encoder output was on it');
    checkTokenIds(decoderPrefix, this.vocabSize, 'decoderPrefix');
    const state = new WorkerDecodeState(this, this.nextStateId++, encoded, [this.info.specialIds.decoderStart, ...decoderPrefix]);
    link.channel.post({ kind: 'create-state', stateId: state.id, encodedId: encoded.encodedId, prefix: [...decoderPrefix] });
    this.live.add(state);
    return state;
  }

  async step(states: readonly DecodeState[]): Promise<Float32Array[]> {
    this.checkOpen('step');
    const members = checkStepStates(states, (state): state is WorkerDecodeState => state instanceof WorkerDecodeState && state.ownedBy(this), (state) => state.stepping);
    const link = this.link;
    for (const state of members) {
      const thread = state.thread as ThreadLink;
      if (thread !== link) throw lost(thread, `decode state ${state.id} was on it`);
    }
    // No state given and no thread: fails as any request does while none serves.
    const serving = link ?? this.serving('step');
    const request = members.map((state) => {
      const { edits, next } = state.beginStep();
      return next === undefined ? { stateId: state.id, edits } : { stateId: state.id, edits, next };
    });
    let reply;
    try {
      reply = await serving.channel.request({ kind: 'step', members: request });
    } catch (error) {
      members.forEach((state) => state.endStep(undefined));
      throw error;
    }
    members.forEach((state, index) => state.endStep(reply.kind === 'stepped' || reply.kind === 'failed' ? reply.cachedLengths?.[index] : undefined));
    if (reply.kind === 'failed') throw restoreError(reply.error);
    if (reply.kind !== 'stepped') throw new Error(`the model thread answered a step with ${reply.kind}`);
    reply.newChunks.forEach((chunk) => serving.rowSlots.addChunk(chunk));
    return members.map((state, index) => {
      const slot = reply.slots[index]!;
      // A state disposed while its step ran gets an empty row, as in-process: nobody reads it any more.
      return slot < 0 || state.disposed ? EMPTY_ROW : serving.rowSlots.row(slot);
    });
  }

  async score(targets: readonly ScoreTarget[]): Promise<Float32Array[]> {
    this.checkOpen('score');
    const own = checkScoreTargets(targets, (encoded): encoded is WorkerEncodedInput => encoded instanceof WorkerEncodedInput && encoded.owner === this, this.vocabSize);
    const link = this.link;
    own.forEach((target, index) => {
      const thread = target.encoded.thread as ThreadLink;
      if (thread !== link) throw lost(thread, `the encoder output of targets[${index}] was on it`);
    });
    if (own.length === 0) return [];
    const members = own.map((target) => ({ encodedId: target.encoded.encodedId, prefix: [...(target.prefix ?? [])], tokens: [...target.tokens] }));
    const reply = await this.serving('score').channel.request({ kind: 'score', targets: members });
    if (reply.kind === 'failed') throw restoreError(reply.error);
    if (reply.kind !== 'scored') throw new Error(`the model thread answered a score with ${reply.kind}`);
    return [...reply.rows];
  }

  async warmUp(): Promise<void> {
    const reply = await this.request('warm up', { kind: 'warm-up' });
    if (reply.kind === 'failed') throw restoreError(reply.error);
  }

  async dispose(): Promise<void> {
    if (this.isDisposed) return;
    this.isDisposed = true;
    this.disposal.abort();
    for (const state of [...this.live]) state.dispose();
    const link = this.link;
    this.link = undefined;
    try {
      if (link !== undefined) await link.channel.request({ kind: 'dispose' });
    } finally {
      await link?.channel.close();
      // A restart under way closes the thread it opened; no thread outlives the model.
      await this.recovery;
    }
  }

  forkState(state: WorkerDecodeState): WorkerDecodeState {
    this.checkOpen('fork a decode state');
    const link = state.thread as ThreadLink;
    if (link !== this.link) throw lost(link, `decode state ${state.id} was on it`);
    const fork = new WorkerDecodeState(this, this.nextStateId++, state.encoded as WorkerEncodedInput, state.tokens);
    fork.continueFrom(state);
    link.channel.post({ kind: 'fork-state', stateId: fork.id, sourceId: state.id });
    this.live.add(fork);
    return fork;
  }

  stateDisposed(state: WorkerDecodeState): void {
    this.live.delete(state);
    // A state of a stopped thread posts to that thread's channel, which sends nothing any more.
    (state.thread as ThreadLink).channel.post({ kind: 'dispose-state', stateId: state.id });
  }

  /** Serves from `channel`'s thread from now on, and restarts it when it dies on its own. */
  private attach(channel: ThreadChannel): void {
    const link: ThreadLink = { channel, rowSlots: new RowSlotReader(this.info.vocabSize) };
    this.link = link;
    channel.onDeath((death) => this.threadDied(link, death));
  }

  private threadDied(link: ThreadLink, death: ThreadDeath): void {
    link.death = death;
    if (this.isDisposed || this.link !== link) return;
    this.link = undefined;
    this.outage = { death };
    if (this.restart.attempts === 0) {
      this.outage.failure = 'restarts are off';
      this.setStatus({ status: 'failed', attempt: 0, cause: death.error });
      return;
    }
    this.setStatus({ status: 'restarting', attempt: 0, cause: death.error });
    this.recovery = this.recover();
  }

  /** Starts a new thread, up to `restart.attempts` times, pausing longer before each attempt. */
  private async recover(): Promise<void> {
    let lastError: Error | undefined;
    for (let attempt = 1; attempt <= this.restart.attempts; attempt++) {
      try {
        await delay(this.restart.delayMs * 2 ** (attempt - 1), undefined, { signal: this.disposal.signal, ref: false });
      } catch {
        return; // disposed during the pause
      }
      let channel: ThreadChannel;
      try {
        channel = await this.startThread();
      } catch (error) {
        if (this.isDisposed) return;
        lastError = error instanceof Error ? error : new Error(String(error));
        if (attempt < this.restart.attempts) this.setStatus({ status: 'restarting', attempt, cause: lastError });
        continue;
      }
      if (this.isDisposed) {
        await channel.close();
        return;
      }
      this.outage = undefined;
      this.attach(channel);
      this.setStatus({ status: 'ready', attempt });
      return;
    }
    const attempts = this.restart.attempts;
    this.outage!.failure = `${attempts} restart attempt${attempts === 1 ? '' : 's'} failed, the last with: ${lastError?.message}`;
    this.setStatus({ status: 'failed', attempt: attempts, cause: lastError });
  }

  /** A new thread on the same folder and options, loaded and warmed up; it must describe the same model. */
  private async startThread(): Promise<ThreadChannel> {
    const { channel, info } = await ThreadChannel.open(this.restart.data);
    try {
      if (!isDeepStrictEqual(info, this.info)) {
        throw new Error(`the model in ${this.restart.data.dir} is no longer the one loaded at start (its config or files changed)`);
      }
      const reply = await channel.request({ kind: 'warm-up' });
      if (reply.kind === 'failed') throw restoreError(reply.error);
      return channel;
    } catch (error) {
      await channel.close();
      throw error;
    }
  }

  private setStatus(event: ModelStatusEvent): void {
    this.currentStatus = event.status;
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch (error) {
        // One listener's bug must not keep the others (the server's health) from hearing of it.
        process.emitWarning(`a model status listener threw: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  }

  /** A request to the thread serving now; `ModelUnavailableError` when there is none. */
  private request(action: string, call: ThreadCall): ReturnType<ThreadChannel['request']> {
    return this.serving(action).channel.request(call);
  }

  /** The thread serving now, or throws: `StateError` once disposed, `ModelUnavailableError` without a thread. */
  private serving(action: string): ThreadLink {
    this.checkOpen(action);
    if (this.link !== undefined) return this.link;
    const outage = this.outage!;
    const now = outage.failure === undefined ? 'it is being restarted' : outage.failure;
    throw ModelUnavailableError.threadStopped(`${outage.death.detail}; ${now}`, outage.death.error);
  }

  private checkOpen(action: string): void {
    if (this.isDisposed) throw new StateError(`cannot ${action}: model ${this.info.name} is disposed`);
  }
}

/** The error for a request on what lived on a stopped thread (`what`: which state or output). */
function lost(link: ThreadLink, what: string): ModelUnavailableError {
  const detail = link.death?.detail ?? 'it was replaced';
  return ModelUnavailableError.threadStopped(`${detail}; ${what}`, link.death?.error);
}

/** What `step` returns for a state disposed while the step ran. */
const EMPTY_ROW = new Float32Array(0);

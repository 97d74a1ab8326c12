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
 */
import { resolve } from 'node:path';

import { InvalidInputError, StateError } from '../errors.js';
import { checkTokenIds } from '../id-validation.js';
import { checkStepStates } from '../step-checks.js';
import { HuggingFaceTextTokenizer } from '../text-tokenizer.js';
import type { DecodeState, EncodedInput, LoadModelOptions, ModelInfo, ModelRuntime } from '../types.js';
import { RowSlotReader } from './row-slots.js';
import { ThreadChannel } from './thread-channel.js';
import { WorkerDecodeState, type WorkerStateOwner } from './worker-decode-state.js';
import { WorkerEncodedInput } from './worker-encoded-input.js';
import { restoreError, type RunAheadStats, type ThreadMemoryUsage } from './worker-protocol.js';

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
}

/** `WorkerModelOptions.threadNice` by default: what the benchmark measured (README, Benchmarks). */
export const DEFAULT_THREAD_NICE = 5;

/** Loads a model folder into a new model thread; the folder's problems reject as `ModelFolderError`. */
export async function loadWorkerModel(dir: string, options: WorkerModelOptions = {}): Promise<WorkerModel> {
  const folder = resolve(dir);
  const { runAhead = true, threadNice = DEFAULT_THREAD_NICE, ...load } = options;
  if (typeof runAhead !== 'boolean') throw new InvalidInputError(`\`runAhead\` must be true or false; given ${JSON.stringify(runAhead)}`);
  if (!Number.isInteger(threadNice) || threadNice < 0 || threadNice > 19) {
    throw new InvalidInputError(`\`threadNice\` must be an integer in [0, 19]; given ${String(threadNice)}`);
  }
  const { channel, info } = await ThreadChannel.open({
    dir: folder,
    options: { ...WORKER_LOAD_DEFAULTS, ...load },
    runAhead,
    threadNice,
  });
  try {
    return new WorkerModel(channel, info, await HuggingFaceTextTokenizer.load(folder));
  } catch (error) {
    await channel.close();
    throw error;
  }
}

export class WorkerModel implements ModelRuntime, WorkerStateOwner {
  private readonly live = new Set<WorkerDecodeState>();
  private readonly rowSlots: RowSlotReader;
  private nextStateId = 1;
  private isDisposed = false;
  /** Tells the thread when the main thread no longer holds an encoder output, so it can drop its copy. */
  private readonly encodedReleases = new FinalizationRegistry<number>((encodedId) => {
    this.channel.post({ kind: 'release-encoded', encodedIds: [encodedId] });
  });

  constructor(
    private readonly channel: ThreadChannel,
    readonly info: ModelInfo,
    readonly tokenizer: HuggingFaceTextTokenizer,
  ) {
    this.rowSlots = new RowSlotReader(info.vocabSize);
  }

  /** Logits width; states check appended ids against it (`WorkerStateOwner`). */
  get vocabSize(): number {
    return this.info.vocabSize;
  }

  get liveStates(): number {
    return this.live.size;
  }

  /** Decode states alive on the model thread; equals `liveStates` once every disposal has reached it. */
  async threadLiveStates(): Promise<number> {
    this.checkOpen('count the thread\'s states');
    const reply = await this.channel.request({ kind: 'live-states' });
    if (reply.kind === 'failed') throw restoreError(reply.error);
    return reply.kind === 'done' ? (reply.value ?? 0) : 0;
  }

  /**
   * The model thread's memory (its heap, and the buffers that hold every cache), after a full garbage
   * collection when the process was started with `--expose-gc`. For measurements: the main thread's
   * `process.memoryUsage()` and `gc()` do not reach the thread's heap.
   */
  async threadMemory(): Promise<ThreadMemoryUsage> {
    this.checkOpen('measure the thread\'s memory');
    const reply = await this.channel.request({ kind: 'memory' });
    if (reply.kind === 'failed') throw restoreError(reply.error);
    if (reply.kind !== 'memory') throw new Error(`the model thread answered a memory request with ${reply.kind}`);
    return reply.usage;
  }

  /** How many steps the thread ran ahead on an expected token, and how many of them were then taken. */
  async threadRunAhead(): Promise<RunAheadStats> {
    this.checkOpen('read the thread\'s run-ahead counts');
    const reply = await this.channel.request({ kind: 'run-ahead-stats' });
    if (reply.kind === 'failed') throw restoreError(reply.error);
    if (reply.kind !== 'run-ahead') throw new Error(`the model thread answered a run-ahead request with ${reply.kind}`);
    return reply.stats;
  }

  async encode(inputs: readonly (readonly number[])[]): Promise<EncodedInput[]> {
    this.checkOpen('encode');
    if (!Array.isArray(inputs)) {
      throw new InvalidInputError(`\`inputs\` must be an array of token id arrays; given ${typeof inputs}`);
    }
    if (inputs.length === 0) return [];
    // The thread checks the ids (with the in-process model's messages); errors come back as their class.
    const reply = await this.channel.request({ kind: 'encode', inputs });
    if (reply.kind === 'failed') throw restoreError(reply.error);
    if (reply.kind !== 'encoded') throw new Error(`the model thread answered an encode with ${reply.kind}`);
    return reply.encodedIds.map((encodedId, index) => {
      const encoded = new WorkerEncodedInput(this, encodedId, [...inputs[index]!], reply.hiddenStates[index]!, reply.encodeMs);
      this.encodedReleases.register(encoded, encodedId);
      return encoded;
    });
  }

  createState(encoded: EncodedInput, decoderPrefix: readonly number[] = []): DecodeState {
    this.checkOpen('create a decode state');
    if (!(encoded instanceof WorkerEncodedInput) || encoded.owner !== this) {
      throw new InvalidInputError('`encoded` must come from this model\'s encode()');
    }
    checkTokenIds(decoderPrefix, this.vocabSize, 'decoderPrefix');
    const state = new WorkerDecodeState(this, this.nextStateId++, encoded, [this.info.specialIds.decoderStart, ...decoderPrefix]);
    this.channel.post({ kind: 'create-state', stateId: state.id, encodedId: encoded.encodedId, prefix: [...decoderPrefix] });
    this.live.add(state);
    return state;
  }

  async step(states: readonly DecodeState[]): Promise<Float32Array[]> {
    this.checkOpen('step');
    const members = checkStepStates(states, (state): state is WorkerDecodeState => state instanceof WorkerDecodeState && state.ownedBy(this), (state) => state.stepping);
    const request = members.map((state) => {
      const { edits, next } = state.beginStep();
      return next === undefined ? { stateId: state.id, edits } : { stateId: state.id, edits, next };
    });
    let reply;
    try {
      reply = await this.channel.request({ kind: 'step', members: request });
    } catch (error) {
      members.forEach((state) => state.endStep(undefined));
      throw error;
    }
    members.forEach((state, index) => state.endStep(reply.kind === 'stepped' || reply.kind === 'failed' ? reply.cachedLengths?.[index] : undefined));
    if (reply.kind === 'failed') throw restoreError(reply.error);
    if (reply.kind !== 'stepped') throw new Error(`the model thread answered a step with ${reply.kind}`);
    reply.newChunks.forEach((chunk) => this.rowSlots.addChunk(chunk));
    return members.map((state, index) => {
      const slot = reply.slots[index]!;
      // A state disposed while its step ran gets an empty row, as in-process: nobody reads it any more.
      return slot < 0 || state.disposed ? EMPTY_ROW : this.rowSlots.row(slot);
    });
  }

  async warmUp(): Promise<void> {
    this.checkOpen('warm up');
    const reply = await this.channel.request({ kind: 'warm-up' });
    if (reply.kind === 'failed') throw restoreError(reply.error);
  }

  async dispose(): Promise<void> {
    if (this.isDisposed) return;
    this.isDisposed = true;
    for (const state of [...this.live]) state.dispose();
    try {
      await this.channel.request({ kind: 'dispose' });
    } finally {
      await this.channel.close();
    }
  }

  stateDisposed(state: WorkerDecodeState): void {
    this.live.delete(state);
    this.channel.post({ kind: 'dispose-state', stateId: state.id });
  }

  private checkOpen(action: string): void {
    if (this.isDisposed) throw new StateError(`cannot ${action}: model ${this.info.name} is disposed`);
  }
}

/** What `step` returns for a state disposed while the step ran. */
const EMPTY_ROW = new Float32Array(0);

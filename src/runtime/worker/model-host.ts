/**
 * The model thread's side of a `WorkerModel`: an in-process `ModelRuntime` plus the encoder outputs and
 * decode states the main thread's handles name by number.
 *
 * Requests run one at a time, in arrival order. That keeps the fire-and-forget requests in their place
 * (a state disposed after a step was sent is disposed after that step, exactly as its handle saw it) and
 * keeps two steps from interleaving their decoder runs. Once a step's rows are posted, the step after it
 * may run at once for the states whose caller said which token comes next (`run-ahead.ts`).
 */
import { StateError } from '../errors.js';
import type { DecodeState, EncodedInput, ModelRuntime } from '../types.js';
import { RowSlotWriter } from './row-slots.js';
import { RunAhead } from './run-ahead.js';
import {
  type ScoreMember,
  type StepMember,
  type ThreadReply,
  type ThreadRequest,
  serializeError,
} from './worker-protocol.js';

export type PostReply = (reply: ThreadReply, transfer: ArrayBuffer[]) => void;

export class ModelHost {
  private readonly encoded = new Map<number, EncodedInput>();
  private readonly states = new Map<number, DecodeState>();
  /** Why a state could not be created; its first step reports it. */
  private readonly failedStates = new Map<number, unknown>();
  private readonly rowSlots: RowSlotWriter;
  private readonly runAhead = new RunAhead();
  private nextEncodedId = 1;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly model: ModelRuntime,
    private readonly post: PostReply,
    private readonly options: { readonly runAhead: boolean },
  ) {
    this.rowSlots = new RowSlotWriter(model.info.vocabSize);
  }

  /** Number of decode states alive on this thread. */
  get liveStates(): number {
    return this.model.liveStates;
  }

  handle(request: ThreadRequest): void {
    // A request with nobody waiting for it can still fail unexpectedly; that must not stop the queue.
    this.queue = this.queue
      .then(() => this.run(request))
      .catch((error: unknown) => this.post({ kind: 'unexpected', error: serializeError(error) }, []));
  }

  private async run(request: ThreadRequest): Promise<void> {
    switch (request.kind) {
      case 'create-state':
        return this.createState(request.stateId, request.encodedId, request.prefix);
      case 'fork-state':
        return this.forkState(request.stateId, request.sourceId);
      case 'dispose-state':
        this.states.get(request.stateId)?.dispose();
        this.states.delete(request.stateId);
        this.runAhead.forget(request.stateId);
        this.rowSlots.release(request.stateId);
        this.failedStates.delete(request.stateId);
        return;
      case 'release-encoded':
        for (const id of request.encodedIds) this.encoded.delete(id);
        return;
      case 'exit':
        // Here, between runs: ending the thread while ONNX Runtime runs aborts the whole process.
        process.exit(request.code);
      default:
        return this.answer(request);
    }
  }

  private async answer(request: Extract<ThreadRequest, { requestId: number }>): Promise<void> {
    const { requestId } = request;
    try {
      switch (request.kind) {
        case 'encode':
          return await this.encode(requestId, request.inputs);
        case 'step':
          return await this.step(requestId, request.members);
        case 'score':
          return await this.score(requestId, request.targets);
        case 'warm-up':
          await this.model.warmUp();
          return this.post({ kind: 'done', requestId }, []);
        case 'live-states':
          return this.post({ kind: 'done', requestId, value: this.model.liveStates }, []);
        case 'memory': {
          // Present only when the process runs with --expose-gc (V8 flags hold for every thread).
          const collect = (globalThis as { gc?: () => void }).gc;
          // Twice, a turn apart: buffers whose last holder died in the first pass are freed by callbacks
          // that run after it, and only the second pass sees the memory they held.
          collect?.();
          await new Promise((resolve) => setImmediate(resolve));
          collect?.();
          const { heapUsed, arrayBuffers, external } = process.memoryUsage();
          return this.post({ kind: 'memory', requestId, usage: { collected: collect !== undefined, heapUsed, arrayBuffers, external } }, []);
        }
        case 'run-ahead-stats':
          return this.post({ kind: 'run-ahead', requestId, stats: this.runAhead.stats }, []);
        case 'dispose':
          this.runAhead.clear();
          this.states.clear();
          this.encoded.clear();
          await this.model.dispose();
          return this.post({ kind: 'done', requestId }, []);
      }
    } catch (error) {
      this.post({ kind: 'failed', requestId, error: serializeError(error) }, []);
    }
  }

  private async encode(requestId: number, inputs: readonly (readonly number[])[]): Promise<void> {
    const results = await this.model.encode(inputs);
    const encodedIds = results.map((result) => {
      const id = this.nextEncodedId++;
      this.encoded.set(id, result);
      return id;
    });
    // The thread keeps its own rows (decode states read them); the main thread gets a copy of each.
    const hiddenStates = results.map((result) => result.hiddenStates.slice());
    const encodeMs = results[0]?.encodeMs ?? 0;
    this.post({ kind: 'encoded', requestId, encodedIds, hiddenStates, encodeMs }, hiddenStates.map((rows) => rows.buffer as ArrayBuffer));
  }

  private async score(requestId: number, members: readonly ScoreMember[]): Promise<void> {
    const targets = members.map(({ encodedId, prefix, tokens }) => {
      const encoded = this.encoded.get(encodedId);
      if (encoded === undefined) throw new StateError(`encoder output ${encodedId} was already released`);
      return { encoded, prefix, tokens };
    });
    // The model's rows view its run's output; each target's are copied once into a buffer of its own, which
    // moves to the main thread without another copy.
    const rows = (await this.model.score(targets)).map((view) => view.slice());
    this.post({ kind: 'scored', requestId, rows }, rows.map((target) => target.buffer as ArrayBuffer));
  }

  private createState(stateId: number, encodedId: number, prefix: readonly number[]): void {
    const encoded = this.encoded.get(encodedId);
    try {
      if (encoded === undefined) throw new StateError(`encoder output ${encodedId} was already released`);
      this.states.set(stateId, this.model.createState(encoded, prefix));
    } catch (error) {
      this.failedStates.set(stateId, error);
    }
  }

  /**
   * The thread's copy of a state, as its last step left it: a step run ahead on a guess is taken back
   * from the copy (the source keeps it, for the request that may take it).
   */
  private forkState(stateId: number, sourceId: number): void {
    try {
      const source = this.stateOf({ stateId: sourceId, edits: [] });
      const fork = source.fork();
      if (this.runAhead.guessed(sourceId)) fork.rewind(1, { keepLastCached: true });
      this.states.set(stateId, fork);
    } catch (error) {
      this.failedStates.set(stateId, error);
    }
  }

  private async step(requestId: number, members: readonly StepMember[]): Promise<void> {
    const states = members.map((member) => this.stateOf(member));
    // Rows of steps already run ahead on the token each request appends; the others run now.
    const ready = members.map((member, index) => this.runAhead.take(states[index]!, member));
    const toRun = states.filter((_, index) => ready[index] === undefined);
    const cachedLengths = () => states.map((state) => state.cachedLength);
    let rows: Float32Array[];
    try {
      const ran = toRun.length > 0 ? await this.model.step(toRun) : [];
      let next = 0;
      rows = ready.map((row) => row ?? ran[next++]!);
    } catch (error) {
      this.post({ kind: 'failed', requestId, error: serializeError(error), cachedLengths: cachedLengths() }, []);
      return;
    }
    const newChunks: SharedArrayBuffer[] = [];
    const slots = rows.map((row, index) => {
      if (row.length === 0) return -1;
      const written = this.rowSlots.write(members[index]!.stateId, row);
      newChunks.push(...written.newChunks);
      return written.slot;
    });
    this.post({ kind: 'stepped', requestId, slots, newChunks, cachedLengths: cachedLengths() }, []);
    // The step each hinted state's stream asks for next, run now rather than after its request arrives.
    // A request queued meanwhile waits for it: most often it is that very request, and otherwise its own
    // step would have waited for this stream's next run all the same.
    if (this.options.runAhead) await this.runAhead.run(this.model, states, members, rows);
  }

  /** The thread's state for a step member. */
  private stateOf(member: StepMember): DecodeState {
    const failure = this.failedStates.get(member.stateId);
    if (failure !== undefined) throw failure;
    const state = this.states.get(member.stateId);
    if (state === undefined) throw new StateError(`decode state ${member.stateId} is unknown to the model thread`);
    return state;
  }
}

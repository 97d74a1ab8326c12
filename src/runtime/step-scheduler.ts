/**
 * `StepScheduler`: a `ModelRuntime` in front of another that turns many streams' one-state `step` calls
 * into batched decoder runs, and their one-input `encode` calls into batched encoder runs.
 *
 * ```ts
 * const model = new StepScheduler(await loadWorkerModel(dir), { maxBatch: 16, maxWaitMs: 10 });
 * // each stream, concurrently:
 * const [encoded] = await model.encode([ids]);   // joins the encodes waiting for the encoder
 * const state = model.createState(encoded!);
 * const [row] = await model.step([state]);       // joins the states at the same decoder position
 * const batchedShare = model.stats.batchedSteps / model.stats.steps;
 * model.onRun((run) => histogram.observe(run.size));   // every run's kind, size and duration, as it ends
 * ```
 *
 * Rules, and why:
 * - One run at a time goes to the model below. While it runs, requests pile up; when it ends they
 *   form the next run. A lone stream never waits: its request starts a run at once.
 * - A run holds states at one decoder position (exported T5 decoders take no decoder attention mask,
 *   so only equal positions share a run; encoder lengths may differ, they are padded and masked).
 * - Before starting a run, the scheduler waits for live states that are expected to join it: states at
 *   that position whose streams are still handling their previous row, or states at most `catchUpSteps`
 *   positions behind it. Without that wait, the first stream back would run alone and split one batch
 *   into two runs for good. The wait ends when they are all back, or when none came for `maxWaitMs`.
 *   A state that let a run go without it is late until it asks for a step: later runs wait for it only
 *   to the end of the current turn of the event loop (it may be asking in the same turn), so a stream
 *   that stays away (its client stops reading, or takes long to decide) costs the others one wait of
 *   `maxWaitMs`, not one per run while they pass its position.
 * - Among waiting runs, the one furthest behind goes first when it is at most `catchUpSteps` positions
 *   behind the oldest request; then the streams ahead hold back until it catches up, and the two merge
 *   into one batch. Further apart, the oldest request goes first, so nobody waits indefinitely.
 * - A run's rows reach their streams together, in one turn of the event loop: each stream chooses its
 *   token and asks for its next step first and builds its messages after (`DecodeSession`), so the next
 *   run can start once every stream has chosen, while the messages are built and sent.
 * - Encoder runs go before decoder runs, so new streams reach their first step together; encode
 *   requests made in the same turn of the event loop share one run.
 * - Scoring runs (`score`) take the targets of every waiting call, oldest first, up to the run bound
 *   (`scoreRunRows`); a call's targets beyond it go to the next scoring run. Calls made in the same turn
 *   share a run. When steps and scores both wait, scoring runs and step runs take turns, so a long scoring
 *   workload delays a stream by at most one scoring run per step, and streams never starve the scores.
 *
 * Each state's result is exactly what the model below returns for it (which, for the in-process and
 * worker runtimes, is what it gets when run alone).
 *
 * Forks (`DecodeState.fork`) are made by the model below; the scheduler knows them by their encoder output
 * from their first step on. A fork of a state whose step waits here copies it as it stands before that step.
 *
 * Status: the scheduler reports the model below's (`status`, `onStatus`). When it leaves `ready`, the
 * states made so far are lost (`ModelStatusEvent`): their waiting and later steps go to the model below
 * on their own, which rejects them, and never share a run with states made after a restart.
 */
import { InvalidInputError, StateError } from './errors.js';
import { checkScoreTargets, scoreRunRows, scoreSequenceLength, splitScoreRuns } from './score-runs.js';
import { checkStepStates } from './step-checks.js';
import type {
  DecodeState,
  EncodedInput,
  ModelInfo,
  ModelRuntime,
  ModelStatus,
  ModelStatusListener,
  ScoreTarget,
  TextTokenizer,
} from './types.js';

export interface StepSchedulerOptions {
  /** Most states in one decoder run, and most inputs in one encoder run; default 16. */
  readonly maxBatch?: number;
  /** How long a run waits for an expected state after the last one arrived; default 10 ms. */
  readonly maxWaitMs?: number;
  /**
   * How far behind (in positions) a run may be and still go first so that others merge with it; default 8,
   * 0: never. The streams ahead pause for at most that many runs, once; a stream further behind never
   * merges (runs alternate, the gap stays), so the bound decides which late starters join a batch: in
   * steps of the model, how much later than another a stream may start and still share its runs
   * (bench/README.md has the staggered-start figures for 4 and 8).
   */
  readonly catchUpSteps?: number;
}

/** Counters since the scheduler was created (benchmarks and tests read them). */
/** Every counter of `SchedulerStats` at 0 (a scheduler's start, or the difference of two equal readings). */
export function emptySchedulerStats(): SchedulerStats {
  return {
    stepRuns: 0,
    steps: 0,
    batchedSteps: 0,
    encodeRuns: 0,
    encodedInputs: 0,
    batchedInputs: 0,
    scoreRuns: 0,
    scoredTargets: 0,
    sharedScoreRuns: 0,
    busyMs: 0,
  };
}

export interface SchedulerStats {
  /** Decoder runs started (calls of the model's `step`). */
  readonly stepRuns: number;
  /** State steps completed (one per state per run). */
  readonly steps: number;
  /** State steps that shared their run with at least one other state. */
  readonly batchedSteps: number;
  /** Encoder runs started. */
  readonly encodeRuns: number;
  /** Inputs encoded. */
  readonly encodedInputs: number;
  /** Inputs that shared their encoder run with at least one other. */
  readonly batchedInputs: number;
  /** Scoring runs started (calls of the model's `score`, one decoder run each). */
  readonly scoreRuns: number;
  /** Targets scored. */
  readonly scoredTargets: number;
  /** Scoring runs that held the targets of more than one `score` call. */
  readonly sharedScoreRuns: number;
  /** Milliseconds during which a run (decoder, encoder or scoring) was under way in the model below. */
  readonly busyMs: number;
}

/** One run the scheduler finished (for whoever watches it, e.g. the server's metrics). */
export interface SchedulerRun {
  readonly kind: 'decoder' | 'encoder' | 'score';
  /** States stepped (decoder), inputs encoded (encoder) or targets scored (score) together. */
  readonly size: number;
  /** How long the model below took. */
  readonly ms: number;
}

export type SchedulerRunListener = (run: SchedulerRun) => void;

export const DEFAULT_SCHEDULER_OPTIONS: Required<StepSchedulerOptions> = { maxBatch: 16, maxWaitMs: 10, catchUpSteps: 8 };

interface PendingStep {
  readonly state: DecodeState;
  readonly arrivedAt: number;
  readonly resolve: (row: Float32Array) => void;
  readonly reject: (error: unknown) => void;
}

interface PendingEncode {
  readonly inputs: readonly (readonly number[])[];
  readonly resolve: (encoded: EncodedInput[]) => void;
  readonly reject: (error: unknown) => void;
}

/** A `score` call whose targets are not all scored yet. */
interface PendingScore {
  readonly targets: readonly ScoreTarget[];
  /** Each target's rows, filled in as its run ends. */
  readonly rows: Float32Array[];
  /** Targets handed to runs so far (they go in order). */
  taken: number;
  /** Targets whose rows came back. */
  done: number;
  failed: boolean;
  readonly resolve: (rows: Float32Array[]) => void;
  readonly reject: (error: unknown) => void;
}

/** The consecutive targets `[from, to)` of one call in a scoring run. */
interface ScorePart {
  readonly pending: PendingScore;
  readonly from: number;
  readonly to: number;
}

/** Where a state's next decoder run is: a key that only states able to share the run have in common. */
interface RunSlot {
  readonly key: string;
  /** The position of the last token the run feeds. */
  readonly position: number;
}

interface StepGroup extends RunSlot {
  readonly members: PendingStep[];
  readonly oldest: number;
}

export class StepScheduler implements ModelRuntime {
  private readonly options: Required<StepSchedulerOptions>;
  /** States created through this scheduler and not seen disposed yet. */
  private readonly known = new Set<DecodeState>();
  /** States with a step waiting or running. */
  private readonly queued = new Set<DecodeState>();
  /** States made before the model below left `ready`: they never join a run again. */
  private readonly lost = new WeakSet<DecodeState>();
  /**
   * The encoder outputs of the states created here, each with the number of times the model below had
   * left `ready` when it was used: a fork (`DecodeState.fork`, made by the model below) is known by its
   * encoder output at its first step, and lost when that output is older than the last stop.
   */
  private readonly encodedStops = new WeakMap<EncodedInput, number>();
  private stops = 0;
  /** States a run waited for in vain: until they ask again, runs wait for them only to the end of a turn. */
  private readonly late = new WeakSet<DecodeState>();
  private readonly unsubscribe: () => void;
  private pendingSteps: PendingStep[] = [];
  private pendingEncodes: PendingEncode[] = [];
  /** Score calls with targets not yet handed to a run, oldest first. */
  private pendingScores: PendingScore[] = [];
  /** Whether the last run was a scoring run: steps waiting then go first. */
  private lastRunScored = false;
  private busy = false;
  /** Set from the end of an encoder run to the end of that turn of the event loop. */
  private settling = false;
  private timer: NodeJS.Timeout | undefined;
  /** A run that waits only for late states: it starts at the end of this turn of the event loop. */
  private turn: NodeJS.Immediate | undefined;
  private isDisposed = false;
  private counters: { -readonly [K in keyof SchedulerStats]: number } = emptySchedulerStats();
  /** When the run under way started. */
  private busySince = 0;
  private readonly runListeners = new Set<SchedulerRunListener>();

  constructor(
    private readonly model: ModelRuntime,
    options: StepSchedulerOptions = {},
  ) {
    this.options = { ...DEFAULT_SCHEDULER_OPTIONS, ...options };
    checkOptions(this.options);
    // Subscribed before anyone can subscribe through `onStatus`: the server hears of a stop only once
    // the lost states are out of the runs.
    this.unsubscribe = model.onStatus((event) => {
      if (event.status !== 'ready') this.loseStates();
    });
  }

  get info(): ModelInfo {
    return this.model.info;
  }
  get tokenizer(): TextTokenizer {
    return this.model.tokenizer;
  }
  get liveStates(): number {
    return this.model.liveStates;
  }

  get status(): ModelStatus {
    return this.model.status;
  }

  onStatus(listener: ModelStatusListener): () => void {
    return this.model.onStatus(listener);
  }

  /** The model below (e.g. to read a worker model's thread-side counts). */
  get inner(): ModelRuntime {
    return this.model;
  }

  get stats(): SchedulerStats {
    return { ...this.counters };
  }

  /** Calls `listener` after every run with its kind, size and duration; returns its unsubscribe. */
  onRun(listener: SchedulerRunListener): () => void {
    this.runListeners.add(listener);
    return () => this.runListeners.delete(listener);
  }

  async encode(inputs: readonly (readonly number[])[]): Promise<EncodedInput[]> {
    this.checkOpen('encode');
    if (!Array.isArray(inputs)) {
      throw new InvalidInputError(`\`inputs\` must be an array of token id arrays; given ${typeof inputs}`);
    }
    if (inputs.length === 0) return [];
    return new Promise((resolve, reject) => {
      this.pendingEncodes.push({ inputs, resolve, reject });
      // Starts handled in the same turn of the event loop share one encoder run.
      if (this.pendingEncodes.length === 1) setImmediate(() => this.schedule());
    });
  }

  createState(encoded: EncodedInput, decoderPrefix?: readonly number[]): DecodeState {
    this.checkOpen('create a decode state');
    const state = this.model.createState(encoded, decoderPrefix);
    this.forgetDisposed();
    this.known.add(state);
    if (!this.encodedStops.has(encoded)) this.encodedStops.set(encoded, this.stops);
    return state;
  }

  async step(states: readonly DecodeState[]): Promise<Float32Array[]> {
    this.checkOpen('step');
    if (Array.isArray(states)) this.adoptForks(states);
    // The model below answers for what was lost (it rejects it), without holding up anyone's run.
    if (Array.isArray(states) && states.some((state) => this.lost.has(state))) return this.model.step(states);
    // The models' own checks and messages; here a state is stepping from its request on.
    const members = checkStepStates(states, (state): state is DecodeState => this.known.has(state), (state) => this.queued.has(state));
    for (const state of members) this.late.delete(state);
    const arrivedAt = performance.now();
    const rows = members.map(
      (state) =>
        new Promise<Float32Array>((resolve, reject) => {
          this.queued.add(state);
          this.pendingSteps.push({ state, arrivedAt, resolve, reject });
        }),
    );
    this.schedule();
    return Promise.all(rows);
  }

  async score(targets: readonly ScoreTarget[]): Promise<Float32Array[]> {
    this.checkOpen('score');
    // The checks the models make, except whose encoder output it is (the model below answers for that),
    // so that one call's bad target never fails a run it shares with others.
    checkScoreTargets(targets, (encoded): encoded is EncodedInput => typeof encoded === 'object' && encoded !== null, this.info.vocabSize);
    if (targets.length === 0) return [];
    return new Promise((resolve, reject) => {
      this.pendingScores.push({ targets, rows: [], taken: 0, done: 0, failed: false, resolve, reject });
      // Calls made in the same turn of the event loop share one run.
      if (this.pendingScores.length === 1) setImmediate(() => this.schedule());
    });
  }

  warmUp(): Promise<void> {
    return this.model.warmUp();
  }

  async dispose(): Promise<void> {
    if (this.isDisposed) return;
    this.isDisposed = true;
    clearTimeout(this.timer);
    clearImmediate(this.turn);
    const closed = new StateError(`model ${this.info.name} was disposed before this request ran`);
    this.pendingSteps.splice(0).forEach((pending) => pending.reject(closed));
    this.pendingEncodes.splice(0).forEach((pending) => pending.reject(closed));
    this.pendingScores.splice(0).forEach((pending) => pending.reject(closed));
    this.queued.clear();
    this.known.clear();
    this.unsubscribe();
    await this.model.dispose();
  }

  /**
   * The model below left `ready`: every state known so far is lost. Their waiting steps go to the model
   * below now, one call each, and it rejects them; the run under way fails on its own.
   */
  /** Forks of the states created here join the known states (or the lost ones) at their first step. */
  private adoptForks(states: readonly DecodeState[]): void {
    for (const state of states) {
      if (typeof state !== 'object' || state === null || this.known.has(state) || this.lost.has(state)) continue;
      const stops = this.encodedStops.get(state.encoded);
      if (stops === undefined) continue;
      if (stops === this.stops) this.known.add(state);
      else this.lost.add(state);
    }
  }

  private loseStates(): void {
    this.stops += 1;
    for (const state of this.known) this.lost.add(state);
    this.known.clear();
    this.settleDisposedSteps();
    const waiting = this.pendingSteps.filter((pending) => this.lost.has(pending.state));
    this.pendingSteps = this.pendingSteps.filter((pending) => !this.lost.has(pending.state));
    for (const pending of waiting) {
      this.queued.delete(pending.state);
      // One call each: each state's error names that state.
      this.model.step([pending.state]).then(([row]) => pending.resolve(row!), pending.reject);
    }
  }

  /**
   * Starts the next run if the model is free and a run is due. A run still expecting states waits for
   * them, and the wait timer (`maxWaitMs`) restarts at every arrival: streams that come back one after
   * another (the serving thread handles their rows in turn) all make it, however long that takes, while
   * a stream that stays silent for `maxWaitMs` is left for a later run. `timedOut`: the timer fired.
   */
  private schedule(timedOut = false): void {
    if (this.busy || this.isDisposed || this.settling) return;
    clearTimeout(this.timer);
    clearImmediate(this.turn);
    this.timer = undefined;
    this.turn = undefined;
    if (this.pendingEncodes.length > 0) {
      void this.runEncoder(this.takeEncodes());
      return;
    }
    this.settleDisposedSteps();
    if (this.pendingScores.length > 0 && (!this.lastRunScored || this.pendingSteps.length === 0)) {
      void this.runScore(this.takeScoreRun());
      return;
    }
    const group = this.nextGroup();
    if (group === undefined) return;
    const expected = timedOut || group.members.length >= this.options.maxBatch ? undefined : this.expected(group);
    if (expected === 'on time') this.timer = setTimeout(() => this.schedule(true), this.options.maxWaitMs);
    if (expected === 'late') this.turn = setImmediate(() => this.schedule(true));
    if (expected !== undefined) return;
    if (timedOut) this.markLate(group);
    void this.runDecoder(group.members.slice(0, this.options.maxBatch));
  }

  /** The run to start next: the furthest behind when it is close to the oldest request, else the oldest. */
  private nextGroup(): StepGroup | undefined {
    const groups = new Map<string, StepGroup>();
    for (const pending of this.pendingSteps) {
      const slot = pendingSlot(pending.state);
      const group = groups.get(slot.key);
      if (group === undefined) groups.set(slot.key, { ...slot, members: [pending], oldest: pending.arrivedAt });
      else group.members.push(pending);
    }
    let oldest: StepGroup | undefined;
    let behind: StepGroup | undefined;
    for (const group of groups.values()) {
      if (oldest === undefined || group.oldest < oldest.oldest) oldest = group;
      if (behind === undefined || group.position < behind.position) behind = group;
    }
    if (oldest === undefined || behind === undefined) return undefined;
    return oldest.position - behind.position <= this.options.catchUpSteps ? behind : oldest;
  }

  /**
   * Whether a live state not yet asking is expected to join `group` or to catch up with it: `on time`
   * when one that is not late is, `late` when only late ones are.
   */
  private expected(group: StepGroup): 'on time' | 'late' | undefined {
    let late = false;
    for (const state of this.known) {
      if (!this.expects(state, group)) continue;
      if (!this.late.has(state)) return 'on time';
      late = true;
    }
    return late ? 'late' : undefined;
  }

  /** The states `group` waited for in vain are late: later runs go without waiting for them. */
  private markLate(group: StepGroup): void {
    for (const state of this.known) if (this.expects(state, group)) this.late.add(state);
  }

  /** Whether `state`, live and not asking, is expected to join `group`, or to run first and catch up with it. */
  private expects(state: DecodeState, group: StepGroup): boolean {
    if (state.disposed || this.queued.has(state)) return false;
    const slot = idleSlot(state);
    if (slot.key === group.key) return true;
    return slot.position < group.position && group.position - slot.position <= this.options.catchUpSteps;
  }

  private async runDecoder(batch: PendingStep[]): Promise<void> {
    this.startRun();
    const taken = new Set(batch);
    this.pendingSteps = this.pendingSteps.filter((pending) => !taken.has(pending));
    // Streams ask in whatever order they finished their last row; a fixed order lets the model below
    // feed an unchanged batch's cache tensors back as they are instead of restacking them every step.
    batch.sort((a, b) => a.state.id - b.state.id);
    this.counters.stepRuns += 1;
    this.counters.steps += batch.length;
    if (batch.length > 1) this.counters.batchedSteps += batch.length;
    this.lastRunScored = false;
    try {
      const rows = await this.model.step(batch.map((pending) => pending.state));
      batch.forEach((pending) => this.queued.delete(pending.state));
      batch.forEach((pending, index) => pending.resolve(rows[index]!));
    } catch (error) {
      // The states were checked on arrival, so a failing run is the model's failure, shared by all.
      batch.forEach((pending) => {
        this.queued.delete(pending.state);
        pending.reject(error);
      });
    } finally {
      this.finishRun('decoder', batch.length);
    }
  }

  private async runEncoder(batch: PendingEncode[]): Promise<void> {
    this.startRun();
    const inputs = batch.flatMap((pending) => pending.inputs);
    this.counters.encodeRuns += 1;
    this.counters.encodedInputs += inputs.length;
    if (inputs.length > 1) this.counters.batchedInputs += inputs.length;
    try {
      const encoded = await this.model.encode(inputs);
      let next = 0;
      for (const pending of batch) {
        pending.resolve(encoded.slice(next, next + pending.inputs.length));
        next += pending.inputs.length;
      }
    } catch (error) {
      if (batch.length === 1) batch[0]!.reject(error);
      // One request's bad input fails the whole run: each request runs alone again, so the error
      // reaches only the request that caused it.
      else for (const pending of batch) await this.model.encode(pending.inputs).then(pending.resolve, pending.reject);
    } finally {
      // The new states are created and stepped by the callers' continuations, which the scheduler cannot
      // expect before they exist: their first steps wait for the end of this turn, to share one run.
      this.settling = true;
      setImmediate(() => {
        this.settling = false;
        this.schedule();
      });
      this.finishRun('encoder', inputs.length);
    }
  }

  /**
   * One decoder run for the targets in `parts`. When it fails and holds several calls' targets, each call's
   * part runs again alone, so that an error reaches only the call that caused it (an encoder output lost
   * with a stopped model thread fails its own call, not the calls batched with it).
   */
  private async runScore(parts: ScorePart[]): Promise<void> {
    this.startRun();
    const targets = parts.flatMap(({ pending, from, to }) => pending.targets.slice(from, to));
    this.counters.scoreRuns += 1;
    this.counters.scoredTargets += targets.length;
    if (new Set(parts.map((part) => part.pending)).size > 1) this.counters.sharedScoreRuns += 1;
    try {
      const rows = await this.model.score(targets);
      let next = 0;
      for (const part of parts) {
        this.scored(part, rows.slice(next, next + part.to - part.from));
        next += part.to - part.from;
      }
    } catch (error) {
      if (parts.length === 1) this.scoreFailed(parts[0]!.pending, error);
      else {
        for (const part of parts) {
          if (part.pending.failed) continue;
          await this.model.score(part.pending.targets.slice(part.from, part.to)).then(
            (rows) => this.scored(part, rows),
            (reason: unknown) => this.scoreFailed(part.pending, reason),
          );
        }
      }
    } finally {
      this.lastRunScored = true;
      this.finishRun('score', targets.length);
    }
  }

  /** The rows of a part came back: its call resolves once all its targets have theirs. */
  private scored({ pending, from }: ScorePart, rows: readonly Float32Array[]): void {
    if (pending.failed) return;
    rows.forEach((row, index) => (pending.rows[from + index] = row));
    pending.done += rows.length;
    if (pending.done === pending.targets.length) pending.resolve(pending.rows);
  }

  /** A call fails as a whole: its targets not yet taken leave the queue. */
  private scoreFailed(pending: PendingScore, error: unknown): void {
    if (pending.failed) return;
    pending.failed = true;
    this.pendingScores = this.pendingScores.filter((waiting) => waiting !== pending);
    pending.reject(error);
  }

  /** The targets of the next scoring run: the waiting calls' in arrival order, up to the run bound. */
  private takeScoreRun(): ScorePart[] {
    const rows = scoreRunRows(this.info.vocabSize);
    const queue = this.pendingScores.flatMap((pending) => pending.targets.slice(pending.taken).map((target) => ({ pending, target })));
    const [run = []] = splitScoreRuns(queue, ({ target }) => scoreSequenceLength(target), rows);
    const parts: ScorePart[] = [];
    for (const { pending } of run) {
      const last = parts[parts.length - 1];
      if (last?.pending === pending) parts[parts.length - 1] = { pending, from: last.from, to: last.to + 1 };
      else parts.push({ pending, from: pending.taken, to: pending.taken + 1 });
    }
    for (const part of parts) part.pending.taken = part.to;
    this.pendingScores = this.pendingScores.filter((pending) => pending.taken < pending.targets.length);
    return parts;
  }

  private startRun(): void {
    this.busy = true;
    this.busySince = performance.now();
  }

  private finishRun(kind: SchedulerRun['kind'], size: number): void {
    this.busy = false;
    const ms = performance.now() - this.busySince;
    this.counters.busyMs += ms;
    for (const listener of this.runListeners) {
      try {
        listener({ kind, size, ms });
      } catch (error) {
        process.emitWarning(`a scheduler run listener threw: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    this.schedule();
  }

  /** Encode requests for the next encoder run: in arrival order, up to `maxBatch` inputs (at least one request). */
  private takeEncodes(): PendingEncode[] {
    let count = 0;
    let taken = 0;
    while (taken < this.pendingEncodes.length) {
      const size = this.pendingEncodes[taken]!.inputs.length;
      if (taken > 0 && count + size > this.options.maxBatch) break;
      count += size;
      taken += 1;
    }
    return this.pendingEncodes.splice(0, taken);
  }

  /** A state disposed while it waited gets an empty row, as one disposed during its run does. */
  private settleDisposedSteps(): void {
    if (!this.pendingSteps.some((pending) => pending.state.disposed)) return;
    this.pendingSteps = this.pendingSteps.filter((pending) => {
      if (!pending.state.disposed) return true;
      this.queued.delete(pending.state);
      pending.resolve(EMPTY_ROW);
      return false;
    });
  }

  private forgetDisposed(): void {
    for (const state of this.known) if (state.disposed) this.known.delete(state);
  }

  private checkOpen(action: string): void {
    if (this.isDisposed) throw new StateError(`cannot ${action}: model ${this.info.name} is disposed`);
  }
}

/** What `step` returns for a state disposed before its run. */
const EMPTY_ROW = new Float32Array(0);

/**
 * The run a state with pending tokens joins. Without a cache yet, it feeds all its tokens through the
 * first-step decoder, which batches sequences of equal length; with one, its last token goes through the
 * cached decoder at position `tokens.length - 1` (any earlier pending tokens run first, on their own).
 */
function pendingSlot(state: DecodeState): RunSlot {
  const last = state.tokens.length - 1;
  return state.cachedLength === 0 ? { key: `first:${state.tokens.length}`, position: last } : { key: `cached:${last}`, position: last };
}

/** The run a state not asking yet is expected to join: after it appends the token for its last row. */
function idleSlot(state: DecodeState): RunSlot {
  if (state.tokens.length > state.cachedLength) return pendingSlot(state);
  const next = state.tokens.length;
  return { key: `cached:${next}`, position: next };
}

function checkOptions(options: Required<StepSchedulerOptions>): void {
  const { maxBatch, maxWaitMs, catchUpSteps } = options;
  if (!Number.isInteger(maxBatch) || maxBatch < 1) {
    throw new InvalidInputError(`\`maxBatch\` must be an integer ≥ 1; given ${String(maxBatch)}`);
  }
  if (typeof maxWaitMs !== 'number' || !Number.isFinite(maxWaitMs) || maxWaitMs < 0) {
    throw new InvalidInputError(`\`maxWaitMs\` must be a number ≥ 0; given ${String(maxWaitMs)}`);
  }
  if (!Number.isInteger(catchUpSteps) || catchUpSteps < 0) {
    throw new InvalidInputError(`\`catchUpSteps\` must be an integer ≥ 0; given ${String(catchUpSteps)}`);
  }
}

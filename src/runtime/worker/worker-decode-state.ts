/**
 * The main thread's handle of a decode state kept on the model thread. It keeps the decoder history and
 * mirrors the cached length, so `tokens`, `cachedLength`, `append` and `rewind` answer at once, with
 * the same checks and messages as the in-process state. Its edits since the last step are recorded in
 * order and replayed on the thread's state by the next step, so a rewind there cuts the cache exactly as
 * it would in-process.
 */
import { StateError } from '../errors.js';
import { checkRewindCount, checkTokenId } from '../id-validation.js';
import type { DecodeState, EncodedInput } from '../types.js';
import type { StateEdit } from './worker-protocol.js';

/** What a handle needs from the model that owns it. */
export interface WorkerStateOwner {
  readonly vocabSize: number;
  /** Called once, when the handle is disposed. */
  stateDisposed(state: WorkerDecodeState): void;
}

export class WorkerDecodeState implements DecodeState {
  private readonly history: number[];
  private edits: StateEdit[] = [];
  private cached = 0;
  private isDisposed = false;
  private isStepping = false;

  constructor(
    private readonly owner: WorkerStateOwner,
    readonly id: number,
    readonly encoded: EncodedInput,
    /** The decoder start token followed by the (validated) prefix. */
    initialTokens: readonly number[],
  ) {
    this.history = [...initialTokens];
  }

  get tokens(): readonly number[] {
    return this.history;
  }

  get cachedLength(): number {
    return this.cached;
  }

  /** Tokens the next step feeds. */
  get pendingCount(): number {
    return this.history.length - this.cached;
  }

  get disposed(): boolean {
    return this.isDisposed;
  }

  /** Whether a step on this state is in flight. */
  get stepping(): boolean {
    return this.isStepping;
  }

  ownedBy(owner: WorkerStateOwner): boolean {
    return this.owner === owner;
  }

  append(token: number): void {
    this.checkMutable('append a token');
    checkTokenId(token, this.owner.vocabSize, 'token');
    this.history.push(token);
    const last = this.edits[this.edits.length - 1];
    if (last !== undefined && 'append' in last) (last.append as number[]).push(token);
    else this.edits.push({ append: [token] });
  }

  rewind(n: number): void {
    this.checkMutable('rewind');
    const generated = this.history.length - 1;
    checkRewindCount(n, generated);
    if (n === 0) return;
    this.history.length -= n;
    // The thread keeps the K/V of every token but the last, which the next step re-feeds.
    this.cached = Math.min(this.cached, this.history.length - 1);
    this.edits.push({ rewind: n });
  }

  dispose(): void {
    if (this.isDisposed) return;
    this.isDisposed = true;
    this.owner.stateDisposed(this);
  }

  /** Marks a step in flight and hands over the edits it must replay first. */
  beginStep(): StateEdit[] {
    this.isStepping = true;
    const edits = this.edits;
    this.edits = [];
    return edits;
  }

  /** Ends the step; `cachedLength` is the thread's cached length after it. */
  endStep(cachedLength: number | undefined): void {
    this.isStepping = false;
    if (cachedLength !== undefined) this.cached = cachedLength;
  }

  private checkMutable(action: string): void {
    if (this.isDisposed) throw new StateError(`cannot ${action}: decode state ${this.id} is disposed`);
    if (this.isStepping) {
      throw new StateError(`cannot ${action}: a step is running on decode state ${this.id}; wait for it to finish`);
    }
  }
}

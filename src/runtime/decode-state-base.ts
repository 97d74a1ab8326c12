/**
 * What every decode state shares, wherever its cache lives (this thread or the model's thread): the
 * decoder history, the disposed / stepping flags, and the checks `append` and `rewind` make, with the
 * same messages. Subclasses say where the cache is (`cachedLength`) and what an edit does to it.
 *
 * Invariant: `cachedLength ≤ tokens.length`; the tokens from `cachedLength` on are pending and are fed
 * by the next step, whose logits are for the position after the last token.
 */
import { StateError } from './errors.js';
import { checkRewindCount, checkTokenId } from './id-validation.js';
import type { DecodeState, EncodedInput, NextTokenHint, RewindOptions } from './types.js';

/** What a state needs from the model that owns it. */
export interface StateOwner<S> {
  readonly vocabSize: number;
  /** Called once, when the state is disposed. */
  stateDisposed(state: S): void;
  /** A new state with `state`'s history and a copy of its cache (`DecodeState.fork`); `state` is idle. */
  forkState(state: S): S;
}

export abstract class DecodeStateBase<S extends DecodeStateBase<S>> implements DecodeState {
  protected readonly history: number[];
  private isDisposed = false;
  protected isStepping = false;
  /** What `expectNext` said for the coming step (read by subclasses that can use it). */
  protected nextHint: NextTokenHint | undefined;

  constructor(
    private readonly owner: StateOwner<S>,
    readonly id: number,
    readonly encoded: EncodedInput,
    /** The decoder start token followed by the (validated) prefix. */
    initialTokens: readonly number[],
  ) {
    this.history = [...initialTokens];
  }

  abstract get cachedLength(): number;

  get tokens(): readonly number[] {
    return this.history;
  }

  /** Tokens the next step feeds. */
  get pendingCount(): number {
    return this.history.length - this.cachedLength;
  }

  get disposed(): boolean {
    return this.isDisposed;
  }

  /** Whether a step on this state is in flight. */
  get stepping(): boolean {
    return this.isStepping;
  }

  /** Belongs to `owner`. */
  ownedBy(owner: StateOwner<S>): boolean {
    return this.owner === owner;
  }

  append(token: number): void {
    this.checkMutable('append a token');
    checkTokenId(token, this.owner.vocabSize, 'token');
    this.history.push(token);
    this.appended(token);
  }

  rewind(n: number, options: RewindOptions = {}): void {
    this.checkMutable('rewind');
    checkRewindCount(n, this.history.length - 1);
    if (n === 0) return;
    this.history.length -= n;
    this.rewound(n, options.keepLastCached === true);
  }

  fork(): S {
    this.checkMutable('fork');
    return this.owner.forkState(this as unknown as S);
  }

  expectNext(hint: NextTokenHint | undefined): void {
    this.nextHint = hint;
  }

  dispose(): void {
    if (this.isDisposed) return;
    this.isDisposed = true;
    this.released();
    this.owner.stateDisposed(this as unknown as S);
  }

  /** After `token` joined the history. */
  protected abstract appended(token: number): void;
  /**
   * After the last `n` tokens left the history (n ≥ 1): the cache keeps the remaining tokens, all of
   * them with `keepLastCached`, else all but the last.
   */
  protected abstract rewound(n: number, keepLastCached: boolean): void;
  /** On dispose, before the owner hears of it. */
  protected abstract released(): void;

  private checkMutable(action: string): void {
    if (this.isDisposed) throw new StateError(`cannot ${action}: decode state ${this.id} is disposed`);
    if (this.isStepping) {
      throw new StateError(`cannot ${action}: a step is running on decode state ${this.id}; wait for it to finish`);
    }
  }
}

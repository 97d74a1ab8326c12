/**
 * One sequence being decoded: its decoder history and its cache. The model's `step` reads and
 * advances it; callers append, rewind and dispose.
 *
 * Invariant: `cachedLength ≤ tokens.length`; the tokens from `cachedLength` on are pending and are fed
 * by the next step, whose logits are for the position after the last token.
 */
import { StateError } from './errors.js';
import { checkRewindCount, checkTokenId } from './id-validation.js';
import type { SequenceCache } from './kv-cache.js';
import type { DecodeState, EncodedInput } from './types.js';

/** What a state needs from the model that owns it. */
export interface DecodeStateOwner {
  readonly vocabSize: number;
  /** Called once, when the state is disposed. */
  stateDisposed(state: T5DecodeState): void;
}

export class T5DecodeState implements DecodeState {
  private readonly history: number[];
  private isDisposed = false;
  private isStepping = false;

  constructor(
    private readonly owner: DecodeStateOwner,
    readonly id: number,
    readonly encoded: EncodedInput,
    /** The decoder start token followed by the (validated) prefix. */
    initialTokens: readonly number[],
    /** Runtime-internal: the KV cache and encoder side; only the model's step touches it. */
    readonly cache: SequenceCache,
  ) {
    this.history = [...initialTokens];
  }

  get tokens(): readonly number[] {
    return this.history;
  }

  get cachedLength(): number {
    return this.cache.length;
  }

  /** Tokens the next step feeds. */
  get pendingCount(): number {
    return this.history.length - this.cache.length;
  }

  get disposed(): boolean {
    return this.isDisposed;
  }

  /** Whether a step on this state is in flight. */
  get stepping(): boolean {
    return this.isStepping;
  }

  /** Belongs to `owner`. */
  ownedBy(owner: DecodeStateOwner): boolean {
    return this.owner === owner;
  }

  append(token: number): void {
    this.checkMutable('append a token');
    checkTokenId(token, this.owner.vocabSize, 'token');
    this.history.push(token);
  }

  rewind(n: number): void {
    this.checkMutable('rewind');
    const generated = this.history.length - 1;
    checkRewindCount(n, generated);
    if (n === 0) return;
    this.history.length -= n;
    // Keep the K/V of every token but the last: the next step re-feeds it and so returns the logits
    // after it, exactly as a fresh decode of the shorter history would.
    this.cache.truncate(Math.min(this.cache.length, this.history.length - 1));
  }

  dispose(): void {
    if (this.isDisposed) return;
    this.isDisposed = true;
    this.cache.release();
    this.owner.stateDisposed(this);
  }

  /** Marks a step in flight; appending and rewinding wait for its end. */
  beginStep(): void {
    this.isStepping = true;
  }

  endStep(): void {
    this.isStepping = false;
  }

  private checkMutable(action: string): void {
    if (this.isDisposed) throw new StateError(`cannot ${action}: decode state ${this.id} is disposed`);
    if (this.isStepping) {
      throw new StateError(`cannot ${action}: a step is running on decode state ${this.id}; wait for it to finish`);
    }
  }
}

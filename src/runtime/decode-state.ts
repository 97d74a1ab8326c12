/**
 * One sequence being decoded on this thread: its decoder history (see `DecodeStateBase`) and its KV cache.
 * The model's `step` reads and advances it; callers append, rewind and dispose.
 */
import { DecodeStateBase, type StateOwner } from './decode-state-base.js';
import type { SequenceCache } from './kv-cache.js';
import type { EncodedInput } from './types.js';

/** What a state needs from the model that owns it. */
export type DecodeStateOwner = StateOwner<T5DecodeState>;

export class T5DecodeState extends DecodeStateBase<T5DecodeState> {
  constructor(
    owner: DecodeStateOwner,
    id: number,
    encoded: EncodedInput,
    initialTokens: readonly number[],
    /** Runtime-internal: the KV cache and encoder side; only the model's step touches it. */
    readonly cache: SequenceCache,
  ) {
    super(owner, id, encoded, initialTokens);
  }

  get cachedLength(): number {
    return this.cache.length;
  }

  /** Marks a step in flight; appending and rewinding wait for its end. */
  beginStep(): void {
    this.isStepping = true;
  }

  endStep(): void {
    this.isStepping = false;
  }

  protected appended(): void {}

  protected rewound(_n: number, keepLastCached: boolean): void {
    // By default keep the K/V of every token but the last: the next step re-feeds it and so returns the
    // logits after it, exactly as a fresh decode of the shorter history would.
    this.cache.truncate(Math.min(this.cache.length, this.history.length - (keepLastCached ? 0 : 1)));
  }

  protected released(): void {
    this.cache.release();
  }
}

/**
 * A stream's generated tokens, the forced tokens queued for the next steps, and the `max_new_tokens`
 * budget they share: the one place that counts what is left.
 */
export class TokenLedger {
  private readonly generated: number[] = [];
  /** Tokens of a forced run still to take, one per step. */
  private forced: number[] = [];

  constructor(readonly maxNewTokens: number) {}

  /** The step awaiting a token: the number of tokens generated so far. */
  get step(): number {
    return this.generated.length;
  }

  /** The generated ids, in order. */
  get ids(): readonly number[] {
    return this.generated;
  }

  /** Tokens that may still be generated or queued. */
  get left(): number {
    return this.maxNewTokens - this.generated.length - this.forced.length;
  }

  /** Whether the budget is spent: the stream ends with the token just taken. */
  get spent(): boolean {
    return this.generated.length >= this.maxNewTokens;
  }

  /** The forced token queued for the step awaiting a token, if any. */
  get nextForced(): number | undefined {
    return this.forced[0];
  }

  /** Queues forced tokens for the next steps; the caller checked them against `left`. */
  queueForced(ids: readonly number[]): void {
    this.forced.push(...ids);
  }

  /** Takes the next queued forced token, if any. */
  takeForced(): number | undefined {
    return this.forced.shift();
  }

  /** Records the token of the step awaiting one. */
  take(id: number): void {
    this.generated.push(id);
  }

  /** A ledger of its own with the same tokens, queued forced tokens and budget (a forked branch's). */
  copy(): TokenLedger {
    const copy = new TokenLedger(this.maxNewTokens);
    copy.generated.push(...this.generated);
    copy.forced = [...this.forced];
    return copy;
  }

  /** Removes the last `count` tokens; a rewind drops the forced tokens still queued too. */
  rewind(count: number): void {
    this.generated.length -= count;
    this.forced = [];
  }
}

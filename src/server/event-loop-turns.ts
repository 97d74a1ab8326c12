/**
 * One waiter per turn of the event loop, per server. Streams whose rows arrive together (one batched
 * decoder run) build and send their messages one after another: if they all resumed in the same turn,
 * the event loop would handle no I/O (health checks, new calls, client decisions) until every one of them
 * was done. Released one per turn, each stream's messages are a task of their own, with I/O polled in
 * between.
 *
 * A waiter is released in a later turn than the call that queued it, so work that runs in the current
 * turn (the other streams choosing their tokens) comes first.
 */
export class EventLoopTurns {
  private readonly waiting: Array<() => void> = [];
  private releasing = false;

  /** Resolves in a turn of its own, after the waiters queued before it. */
  next(): Promise<void> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      if (!this.releasing) {
        this.releasing = true;
        setImmediate(this.releaseOne);
      }
    });
  }

  private readonly releaseOne = (): void => {
    this.waiting.shift()?.();
    // Queued from within this turn's check phase, the next release runs in the next turn, after I/O.
    if (this.waiting.length > 0) setImmediate(this.releaseOne);
    else this.releasing = false;
  };
}

/**
 * Counts the open `Decode` + `Generate` streams against `maxConcurrentStreams`. Each open stream holds a
 * KV cache and a working row, so the count bounds the server's memory; a stream beyond it is refused at
 * once with RESOURCE_EXHAUSTED rather than queued.
 */
export class StreamSlots {
  private open = 0;

  constructor(readonly capacity: number) {}

  /** Streams open now. */
  get active(): number {
    return this.open;
  }

  /** Takes a slot; returns its (idempotent) release, or `undefined` when every slot is taken. */
  tryAcquire(): (() => void) | undefined {
    if (this.open >= this.capacity) return undefined;
    this.open += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.open -= 1;
    };
  }
}

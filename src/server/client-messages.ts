/**
 * Reads a bidirectional call's client messages on demand. The call's readable side stays paused, so
 * messages the session has not asked for yet wait in grpc-js's small buffer and then in HTTP/2 flow
 * control: a client that floods the stream slows itself down instead of growing the server's memory.
 */
import type { Readable } from 'node:stream';

export class ClientMessages<T> {
  /** The `next()` waiting for a message, if one is. */
  private waiting: { resolve: () => void; reject: (reason: unknown) => void } | undefined;

  constructor(
    private readonly call: Readable,
    private readonly signal: AbortSignal,
  ) {
    // One set of listeners for the call's life, instead of three added and removed around every wait:
    // LOCKSTEP waits once a step, and the listener churn showed in its profiles (bench/README.md).
    const wake = (): void => this.settle()?.resolve();
    call.on('readable', wake);
    call.on('end', wake);
    signal.addEventListener(
      'abort',
      () => {
        call.off('readable', wake);
        call.off('end', wake);
        this.settle()?.reject(signal.reason);
      },
      { once: true },
    );
  }

  /** A message that has already arrived, without waiting; `undefined` when none is there. */
  poll(): T | undefined {
    const message: T | null = this.call.read();
    return message ?? undefined;
  }

  /** Whether the client has half-closed and every message it sent was read. */
  get exhausted(): boolean {
    return this.call.readableEnded;
  }

  /**
   * Waits for the next message. Resolves `undefined` when the client half-closed; rejects with the
   * signal's reason when the call ends first. One wait at a time (the session reads its messages in turn).
   */
  async next(): Promise<T | undefined> {
    for (;;) {
      this.signal.throwIfAborted();
      const message = this.poll();
      if (message !== undefined) return message;
      if (this.call.readableEnded) return undefined;
      if (this.waiting !== undefined) throw new Error('ClientMessages.next() is already waiting');
      await new Promise<void>((resolve, reject) => (this.waiting = { resolve, reject }));
    }
  }

  /** Takes the waiting `next()` out, to settle it. */
  private settle() {
    const waiting = this.waiting;
    this.waiting = undefined;
    return waiting;
  }
}

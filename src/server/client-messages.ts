/**
 * Reads a bidirectional call's client messages on demand. The call's readable side stays paused, so
 * messages the session has not asked for yet wait in grpc-js's small buffer and then in HTTP/2 flow
 * control: a client that floods the stream slows itself down instead of growing the server's memory.
 */
import type { Readable } from 'node:stream';

export class ClientMessages<T> {
  constructor(
    private readonly call: Readable,
    private readonly signal: AbortSignal,
  ) {}

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
   * signal's reason when the call ends first.
   */
  async next(): Promise<T | undefined> {
    for (;;) {
      this.signal.throwIfAborted();
      const message = this.poll();
      if (message !== undefined) return message;
      if (this.call.readableEnded) return undefined;
      await this.readableOrEnd();
    }
  }

  private readableOrEnd(): Promise<void> {
    return new Promise((resolve, reject) => {
      const settle = (): void => {
        this.call.off('readable', settle);
        this.call.off('end', settle);
        this.signal.removeEventListener('abort', abort);
        resolve();
      };
      const abort = (): void => {
        this.call.off('readable', settle);
        this.call.off('end', settle);
        reject(this.signal.reason);
      };
      this.call.on('readable', settle);
      this.call.on('end', settle);
      this.signal.addEventListener('abort', abort, { once: true });
    });
  }
}

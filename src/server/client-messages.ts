/**
 * Reads a bidirectional call's client messages on demand. The call's readable side stays paused, so
 * messages the session has not asked for yet wait in grpc-js's small buffer and then in HTTP/2 flow
 * control: a client that floods the stream slows itself down instead of growing the server's memory.
 *
 * A wait for a message the stream cannot go on without (its `Start`, a LOCKSTEP decision) is bounded by
 * the decision timeout: a client that holds its stream open and never answers would otherwise keep a
 * slot and a KV cache for ever.
 */
import type { Readable } from 'node:stream';
import { inSeconds } from './lifecycle-options.js';
import { deadlineExceeded } from './status.js';

export class ClientMessages<T> {
  /** The `next()` waiting for a message, if one is. */
  private waiting: { resolve: () => void; reject: (reason: unknown) => void } | undefined;

  /**
   * `waitLimitMs`: how long `next` waits for a message before it rejects with DEADLINE_EXCEEDED
   * (`--decision-timeout`); 0 (the default): no limit.
   */
  constructor(
    private readonly call: Readable,
    private readonly signal: AbortSignal,
    private readonly waitLimitMs = 0,
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
   * signal's reason when the call ends first, or with DEADLINE_EXCEEDED naming `awaited` (e.g. "decision
   * for step 3") when the wait limit passes first. One wait at a time (the session reads its messages in
   * turn).
   */
  async next(awaited = 'client message'): Promise<T | undefined> {
    let limit: { timer: NodeJS.Timeout; expired: boolean } | undefined;
    try {
      for (;;) {
        this.signal.throwIfAborted();
        const message = this.poll();
        if (message !== undefined) return message;
        if (this.call.readableEnded) return undefined;
        if (limit?.expired) throw this.waitedTooLong(awaited);
        if (this.waiting !== undefined) throw new Error('ClientMessages.next() is already waiting');
        const wait = new Promise<void>((resolve, reject) => (this.waiting = { resolve, reject }));
        limit ??= this.startLimit(awaited);
        await wait;
      }
    } finally {
      if (limit !== undefined) clearTimeout(limit.timer);
    }
  }

  /** Starts the wait limit of one `next`, if there is one: it rejects the wait when it passes. */
  private startLimit(awaited: string): { timer: NodeJS.Timeout; expired: boolean } | undefined {
    if (this.waitLimitMs === 0) return undefined;
    const limit = {
      expired: false,
      timer: setTimeout(() => {
        limit.expired = true;
        this.settle()?.reject(this.waitedTooLong(awaited));
      }, this.waitLimitMs),
    };
    return limit;
  }

  private waitedTooLong(awaited: string): Error {
    return deadlineExceeded(`no ${awaited} within ${inSeconds(this.waitLimitMs)} (\`--decision-timeout\`)`);
  }

  /** Takes the waiting `next()` out, to settle it. */
  private settle() {
    const waiting = this.waiting;
    this.waiting = undefined;
    return waiting;
  }
}

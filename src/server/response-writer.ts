/**
 * Writes encoded messages to a streaming call with back-pressure: when `write()` reports a full buffer, the
 * caller's `await` lasts until `'drain'`, so the next decoder step is not computed before the client has
 * taken the previous one. A client that stops reading therefore stops its stream instead of growing the
 * server's memory. The wait ends early (rejecting) when the call's signal is raised.
 *
 * It also reports to a `ResponseBacklog` (the server's metrics) the bytes it wrote that the transport has
 * not taken yet, and whether it waits for its reader: what a slow reader costs the server, seen live.
 */
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import type { ResponseBacklog } from './server-metrics.js';

const NO_BACKLOG: ResponseBacklog = { buffered: () => {}, waiting: () => {} };

export class ResponseWriter {
  /** Bytes written that the transport has not taken yet. */
  private pending = 0;
  private closed = false;

  constructor(
    private readonly call: Writable,
    private readonly signal: AbortSignal,
    private readonly backlog: ResponseBacklog = NO_BACKLOG,
  ) {}

  /** Queues one encoded message; resolves when the stream can take the next one. Callers await in turn. */
  async write(encoded: Buffer): Promise<void> {
    this.signal.throwIfAborted();
    const size = encoded.length;
    this.held(size);
    if (this.call.write(encoded, () => this.held(-size))) return;
    this.backlog.waiting(1);
    try {
      await once(this.call, 'drain', { signal: this.signal });
    } finally {
      this.backlog.waiting(-1);
    }
  }

  /**
   * The call ended: what it still holds is the transport's to drop (a cancelled call never reports those
   * writes done), so it leaves the backlog now. Idempotent.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.backlog.buffered(-this.pending);
    this.pending = 0;
  }

  private held(bytes: number): void {
    if (this.closed) return;
    this.pending += bytes;
    this.backlog.buffered(bytes);
  }
}

/**
 * Writes encoded messages to a streaming call with back-pressure: when `write()` reports a full buffer, the
 * caller's `await` lasts until `'drain'`, so the next decoder step is not computed before the client has
 * taken the previous one. A client that stops reading therefore stops its stream instead of growing the
 * server's memory. The wait ends early (rejecting) when the call's signal is raised.
 */
import { once } from 'node:events';
import type { Writable } from 'node:stream';

export class ResponseWriter {
  constructor(
    private readonly call: Writable,
    private readonly signal: AbortSignal,
  ) {}

  /** Queues one encoded message; resolves when the stream can take the next one. Callers await in turn. */
  async write(encoded: Buffer): Promise<void> {
    this.signal.throwIfAborted();
    if (!this.call.write(encoded)) await once(this.call, 'drain', { signal: this.signal });
  }
}

/**
 * The server-wide signal raised when shutdown begins; every streaming call's context listens to it, so
 * open streams end (UNAVAILABLE) and free their decode states instead of holding the server open.
 */
import { setMaxListeners } from 'node:events';

export class ShutdownSignal {
  private readonly controller = new AbortController();

  constructor() {
    // One listener per open stream: their number is bounded by the server's stream limit, not by Node's
    // default of 10 (past which it warns of a leak that is not one).
    setMaxListeners(0, this.controller.signal);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Raises the signal; later calls do nothing. */
  raise(): void {
    this.controller.abort('shutdown');
  }
}

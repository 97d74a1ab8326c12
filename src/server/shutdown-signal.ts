/**
 * The server-wide state of shutdown, in two phases. Draining: new calls are refused with UNAVAILABLE while
 * open streams run on. Raised: every streaming call's context listens to the signal, so the streams still
 * open end (UNAVAILABLE) and free their decode states instead of holding the server open.
 */
import { setMaxListeners } from 'node:events';
import { unavailable, type ServerError } from './status.js';

/** What a call refused or ended by shutdown is told. */
export const shuttingDown = (): ServerError => unavailable('the server is shutting down; retry on another instance');

export class ShutdownSignal {
  private readonly controller = new AbortController();
  private drainBegun = false;

  constructor() {
    // One listener per open stream: their number is bounded by the server's stream limit, not by Node's
    // default of 10 (past which it warns of a leak that is not one).
    setMaxListeners(0, this.controller.signal);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Whether shutdown began: new calls are refused. */
  get draining(): boolean {
    return this.drainBegun;
  }

  /** Begins the drain: new calls are refused from now on; open ones run on. */
  beginDrain(): void {
    this.drainBegun = true;
  }

  /** Raises the signal (the drain ends); later calls do nothing. */
  raise(): void {
    this.drainBegun = true;
    this.controller.abort('shutdown');
  }
}

/**
 * The server-wide signal raised when shutdown begins; every streaming call's context listens to it, so
 * open streams end (UNAVAILABLE) and free their decode states instead of holding the server open.
 */
export class ShutdownSignal {
  private readonly controller = new AbortController();

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Raises the signal; later calls do nothing. */
  raise(): void {
    this.controller.abort('shutdown');
  }
}

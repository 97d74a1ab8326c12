/**
 * Counts the open `Decode` + `Generate` streams against `maxConcurrentStreams`. Each open stream holds a
 * KV cache and a working row, so the count bounds the server's memory. A stream beyond it may wait for a
 * slot (`waitFor`): waiters are served in arrival order, a freed slot passing straight to the first of
 * them, so a stream arriving later never overtakes one that waits.
 *
 * Usage (what `StreamingCalls` does):
 * ```ts
 * const release = slots.tryAcquire() ?? (await slots.waitFor(2_000, signal));   // undefined: none freed in time
 * context.onEnd(release);
 * ```
 */

/** Gives a slot back; idempotent. */
export type ReleaseSlot = () => void;

interface Waiter {
  readonly grant: (release: ReleaseSlot) => void;
  readonly refuse: (reason: unknown) => void;
}

export class StreamSlots {
  private open = 0;
  /** Streams waiting for a slot, first come first. */
  private readonly waiters: Waiter[] = [];
  /** Called once no stream is open. */
  private idleWatchers: Array<() => void> = [];

  constructor(readonly capacity: number) {}

  /** Streams open now. */
  get active(): number {
    return this.open;
  }

  /** Streams waiting for a slot now. */
  get queued(): number {
    return this.waiters.length;
  }

  /** Takes a slot; `undefined` when every slot is taken or others already wait for one. */
  tryAcquire(): ReleaseSlot | undefined {
    if (this.open >= this.capacity || this.waiters.length > 0) return undefined;
    this.open += 1;
    return this.releaser();
  }

  /**
   * Waits up to `timeoutMs` for a slot, behind those already waiting. Resolves with the slot's release, or
   * `undefined` when none was freed in time; rejects with `signal`'s reason when it is raised first (the
   * call ended), or with the reason given to `refuseWaiting`.
   */
  waitFor(timeoutMs: number, signal: AbortSignal): Promise<ReleaseSlot | undefined> {
    const granted = this.tryAcquire();
    if (granted !== undefined) return Promise.resolve(granted);
    signal.throwIfAborted();
    return new Promise((resolve, reject) => {
      const leave = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        const index = this.waiters.indexOf(waiter);
        if (index >= 0) this.waiters.splice(index, 1);
      };
      const waiter: Waiter = {
        grant: (release) => (leave(), resolve(release)),
        refuse: (reason) => (leave(), reject(reason)),
      };
      const onAbort = (): void => waiter.refuse(signal.reason);
      const timer = setTimeout(() => (leave(), resolve(undefined)), timeoutMs);
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  /** Refuses every stream waiting now with `reason` (shutdown began). */
  refuseWaiting(reason: unknown): void {
    for (const waiter of [...this.waiters]) waiter.refuse(reason);
  }

  /** Resolves `true` once no stream is open, or `false` when `timeoutMs` passes first. */
  whenIdle(timeoutMs: number): Promise<boolean> {
    if (this.open === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const watcher = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.idleWatchers = this.idleWatchers.filter((other) => other !== watcher);
        resolve(false);
      }, timeoutMs);
      this.idleWatchers.push(watcher);
    });
  }

  /** The release of a slot just taken: it passes the slot to the first waiter, if any, or frees it. */
  private releaser(): ReleaseSlot {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiters[0];
      if (next !== undefined) return next.grant(this.releaser());
      this.open -= 1;
      if (this.open === 0) for (const watcher of this.idleWatchers.splice(0)) watcher();
    };
  }
}

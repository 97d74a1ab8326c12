/**
 * One waiter per turn of the event loop. Sixteen streams that got their rows together build and send
 * their messages one after another; if they all resumed in the same turn, the event loop would handle no
 * I/O (health checks, new calls, client decisions) until all sixteen were done (~6 ms on the benchmark
 * machine; the 16-stream event-loop delay p99 reached 18 ms). Released one per turn, each stream's
 * messages are a task of their own and I/O is polled in between (event-loop p99 14 ms, health-check p99
 * 30–32 ms, over three runs of the same benchmark).
 *
 * A waiter is released in a later turn than the call that queued it, so work that runs in the current
 * turn (the other streams choosing their tokens) comes first.
 */
const waiting: Array<() => void> = [];
let releasing = false;

/** Resolves in a turn of its own, after the waiters queued before it. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => {
    waiting.push(resolve);
    if (!releasing) {
      releasing = true;
      setImmediate(releaseOne);
    }
  });
}

function releaseOne(): void {
  waiting.shift()?.();
  // Queued from within this turn's check phase, the next release runs in the next turn, after I/O.
  if (waiting.length > 0) setImmediate(releaseOne);
  else releasing = false;
}

/** `EventLoopTurns`: waiters are released in order, each in a turn of the event loop of its own. */
import { describe, expect, it } from 'vitest';
import { EventLoopTurns } from '../../../src/server/event-loop-turns.js';

const turns = new EventLoopTurns();
const nextTurn = (): Promise<void> => turns.next();

describe('EventLoopTurns.next', () => {
  it('releases waiters in the order they asked, one per turn of the event loop', async () => {
    let turn = 0;
    let ticking = true;
    const tick = (): void => {
      turn += 1;
      if (ticking) setImmediate(tick);
    };
    setImmediate(tick);
    const order: number[] = [];
    const seen = await Promise.all(
      Array.from({ length: 10 }, (_, index) => index).map((index) =>
        nextTurn().then(() => {
          order.push(index);
          return turn;
        }),
      ),
    );
    ticking = false;
    expect(order).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(new Set(seen).size).toBe(10);
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
  });

  it('releases a waiter after the work of the turn that queued it', async () => {
    const events: string[] = [];
    const waiter = nextTurn().then(() => events.push('released'));
    await Promise.resolve();
    events.push('same turn');
    await waiter;
    expect(events).toEqual(['same turn', 'released']);
    // Later waiters still work once the queue has drained.
    await nextTurn();
  });
});

/** The waits of a stream's life: for a slot (in arrival order, bounded), for the client (bounded), for the drain. */
import { status as Status } from '@grpc/grpc-js';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ClientMessages } from '../../../src/server/client-messages.js';
import { connectionOptions, resolveLifecycle } from '../../../src/server/lifecycle-options.js';
import { ServerError } from '../../../src/server/status.js';
import { StreamSlots } from '../../../src/server/stream-slots.js';

const live = (): AbortSignal => new AbortController().signal;

describe('stream slots queue', () => {
  it('a freed slot goes to the stream that has waited longest, and a later arrival does not overtake', async () => {
    const slots = new StreamSlots(1);
    const first = slots.tryAcquire()!;
    const order: string[] = [];
    const a = slots.waitFor(10_000, live()).then((release) => (order.push('a'), release));
    const b = slots.waitFor(10_000, live()).then((release) => (order.push('b'), release));
    expect(slots.queued).toBe(2);
    first();
    // The slot passed to `a`; a newcomer finds the server full although `b` was not served yet.
    expect(slots.tryAcquire()).toBeUndefined();
    const releaseA = (await a)!;
    expect(slots.active).toBe(1);
    releaseA();
    const releaseB = (await b)!;
    expect(order).toEqual(['a', 'b']);
    releaseB();
    expect(slots.active).toBe(0);
    expect(slots.queued).toBe(0);
  });

  it('a wait that times out resolves undefined and leaves the queue', async () => {
    const slots = new StreamSlots(1);
    const held = slots.tryAcquire()!;
    expect(await slots.waitFor(20, live())).toBeUndefined();
    expect(slots.queued).toBe(0);
    held();
    expect(slots.active).toBe(0);
  });

  it('a waiter whose call ends leaves the queue, and the slot goes to the next one', async () => {
    const slots = new StreamSlots(1);
    const held = slots.tryAcquire()!;
    const controller = new AbortController();
    const gone = slots.waitFor(10_000, controller.signal);
    const next = slots.waitFor(10_000, live());
    controller.abort('cancelled');
    await expect(gone).rejects.toBe('cancelled');
    expect(slots.queued).toBe(1);
    held();
    const release = (await next)!;
    release();
    expect(slots.active).toBe(0);
  });

  it('refuseWaiting rejects every waiter with the reason given', async () => {
    const slots = new StreamSlots(1);
    slots.tryAcquire();
    const waits = [slots.waitFor(10_000, live()), slots.waitFor(10_000, live())];
    slots.refuseWaiting('shutting down');
    for (const wait of waits) await expect(wait).rejects.toBe('shutting down');
    expect(slots.queued).toBe(0);
  });

  it('whenIdle resolves true once the last stream ends, false when its time passes first', async () => {
    const slots = new StreamSlots(2);
    expect(await slots.whenIdle(0)).toBe(true);
    const one = slots.tryAcquire()!;
    const two = slots.tryAcquire()!;
    expect(await slots.whenIdle(10)).toBe(false);
    const idle = slots.whenIdle(10_000);
    one();
    two();
    expect(await idle).toBe(true);
  });
});

describe('client message wait limit', () => {
  it('a wait longer than the limit rejects with DEADLINE_EXCEEDED naming what was awaited and the flag', async () => {
    const messages = new ClientMessages<string>(new PassThrough({ objectMode: true }), live(), 20);
    const error = await messages.next('decision for step 3').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ServerError);
    expect((error as ServerError).code).toBe(Status.DEADLINE_EXCEEDED);
    expect((error as ServerError).message).toBe('no decision for step 3 within 0.02 s (`--decision-timeout`)');
  });

  it('the limit counts per wait: a message in time resets it for the next', async () => {
    const call = new PassThrough({ objectMode: true });
    const messages = new ClientMessages<string>(call, live(), 200);
    for (const message of ['a', 'b', 'c']) {
      const waiting = messages.next('x');
      setTimeout(() => call.write(message), 100);
      expect(await waiting).toBe(message);
    }
  });

  it('a limit of 0 never ends a wait', async () => {
    const call = new PassThrough({ objectMode: true });
    const messages = new ClientMessages<string>(call, live(), 0);
    const waiting = messages.next('x');
    setTimeout(() => call.write('late'), 50);
    expect(await waiting).toBe('late');
  });
});

describe('lifecycle options', () => {
  it('refuses a negative or fractional duration, naming the option', () => {
    expect(() => resolveLifecycle({ queueTimeoutMs: -1 })).toThrow('`queueTimeoutMs` must be a non-negative integer of milliseconds; given -1');
    expect(() => resolveLifecycle({ keepaliveTimeMs: 1000, keepaliveTimeoutMs: 0 })).toThrow('`keepaliveTimeoutMs` must be positive');
  });

  it('passes only what is on to grpc-js', () => {
    const none = resolveLifecycle({ keepaliveTimeMs: 0 });
    expect(connectionOptions(none)).toEqual({});
    const all = resolveLifecycle({ keepaliveTimeMs: 1000, keepaliveTimeoutMs: 500, maxConnectionAgeMs: 2000, maxConnectionAgeGraceMs: 300 });
    expect(connectionOptions(all)).toEqual({
      'grpc.keepalive_time_ms': 1000,
      'grpc.keepalive_timeout_ms': 500,
      'grpc.max_connection_age_ms': 2000,
      'grpc.max_connection_age_grace_ms': 300,
    });
  });
});

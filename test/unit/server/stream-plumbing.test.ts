/**
 * The plumbing under every stream, on real Node streams: writes wait for 'drain', client messages are read
 * on demand, slots bound the open streams, errors map to statuses.
 */
import { status as Status } from '@grpc/grpc-js';
import { PassThrough, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { EmptyDistributionError, PipelineError, ProcessorParameterError } from '../../../src/processors/index.js';
import { InvalidInputError, OutOfRangeError } from '../../../src/runtime/index.js';
import { ClientMessages } from '../../../src/server/client-messages.js';
import { MemoryLogger } from '../../../src/server/logger.js';
import { ResponseWriter } from '../../../src/server/response-writer.js';
import { INTERNAL_ERROR_MESSAGE, invalidArgument, toStatusObject } from '../../../src/server/status.js';
import { StreamSlots } from '../../../src/server/stream-slots.js';

/** A real Writable whose reader holds every write until `resume()`; room for two messages. */
function pausedReader() {
  const delivered: string[] = [];
  const held: Array<() => void> = [];
  let paused = true;
  const stream = new Writable({
    objectMode: true,
    highWaterMark: 2,
    write(chunk: Buffer, _encoding, done) {
      delivered.push(String(chunk));
      if (paused) held.push(done);
      else done();
    },
  });
  const resume = (): void => {
    paused = false;
    for (const done of held.splice(0)) done();
  };
  return { stream, delivered, resume };
}

describe('response writer', () => {
  it('a write into a full stream resolves only after the reader drained it', async () => {
    const reader = pausedReader();
    const writer = new ResponseWriter(reader.stream, new AbortController().signal);
    await writer.write(Buffer.from('a'));
    let accepted = false;
    const pending = writer.write(Buffer.from('b')).then(() => (accepted = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(accepted).toBe(false);
    reader.resume();
    await pending;
    expect(reader.delivered).toEqual(['a', 'b']);
  });

  it('a wait for drain ends with the signal when the call goes away', async () => {
    const reader = pausedReader();
    const controller = new AbortController();
    const writer = new ResponseWriter(reader.stream, controller.signal);
    await writer.write(Buffer.from('a'));
    const pending = writer.write(Buffer.from('b'));
    controller.abort('cancelled');
    await expect(pending).rejects.toThrow();
  });
});

describe('response backlog', () => {
  function backlog() {
    const seen = { bytes: 0, waiting: 0 };
    return { seen, backlog: { buffered: (bytes: number) => (seen.bytes += bytes), waiting: (change: 1 | -1) => (seen.waiting += change) } };
  }

  it('counts the bytes the reader has not taken and whether the writer waits for it; nothing once taken', async () => {
    const reader = pausedReader();
    const { seen, backlog: sink } = backlog();
    const writer = new ResponseWriter(reader.stream, new AbortController().signal, sink);
    await writer.write(Buffer.alloc(100));
    const pending = writer.write(Buffer.alloc(50));
    await new Promise((resolve) => setImmediate(resolve));
    expect(seen).toEqual({ bytes: 150, waiting: 1 });
    reader.resume();
    await pending;
    await new Promise((resolve) => setImmediate(resolve)); // write callbacks run after 'drain'
    expect(seen).toEqual({ bytes: 0, waiting: 0 });
  });

  it('forgets what a call that ended still held, once, and counts nothing after', async () => {
    const reader = pausedReader();
    const { seen, backlog: sink } = backlog();
    const controller = new AbortController();
    const writer = new ResponseWriter(reader.stream, controller.signal, sink);
    await writer.write(Buffer.alloc(100));
    const pending = writer.write(Buffer.alloc(50));
    controller.abort('cancelled');
    await expect(pending).rejects.toBeDefined();
    writer.close();
    writer.close();
    expect(seen).toEqual({ bytes: 0, waiting: 0 });
    reader.resume();
    await new Promise((resolve) => setImmediate(resolve));
    expect(seen).toEqual({ bytes: 0, waiting: 0 });
  });
});

describe('client messages', () => {
  it('messages are read in order on demand; the end reads as undefined', async () => {
    const call = new PassThrough({ objectMode: true });
    const messages = new ClientMessages<string>(call, new AbortController().signal);
    expect(messages.poll()).toBeUndefined();
    call.write('first');
    call.write('second');
    expect(await messages.next()).toBe('first');
    expect(messages.poll()).toBe('second');
    const waiting = messages.next();
    call.end();
    expect(await waiting).toBeUndefined();
    expect(messages.exhausted).toBe(true);
  });

  it('waiting for a message ends with the signal', async () => {
    const controller = new AbortController();
    const messages = new ClientMessages<string>(new PassThrough({ objectMode: true }), controller.signal);
    const waiting = messages.next();
    controller.abort('deadline');
    await expect(waiting).rejects.toBe('deadline');
  });
});

describe('stream slots', () => {
  it('refuses beyond capacity, and a release is counted once however often it runs', () => {
    const slots = new StreamSlots(2);
    const first = slots.tryAcquire()!;
    slots.tryAcquire();
    expect(slots.tryAcquire()).toBeUndefined();
    first();
    first();
    expect(slots.active).toBe(1);
    expect(slots.tryAcquire()).toBeDefined();
    expect(slots.tryAcquire()).toBeUndefined();
  });
});

describe('status mapping', () => {
  const logger = new MemoryLogger();
  it.each([
    [invalidArgument('`x` must be in [0, 1]; given 2'), Status.INVALID_ARGUMENT],
    [new InvalidInputError('input_ids[3] must be in [0, 512); given 900'), Status.INVALID_ARGUMENT],
    [new OutOfRangeError('rewind 5 of 3 tokens'), Status.OUT_OF_RANGE],
    [new ProcessorParameterError('top_p', 'top_p', '`top_p` must be in (0, 1]; given 1.5'), Status.INVALID_ARGUMENT],
    [new PipelineError('cannot remove `x`'), Status.INVALID_ARGUMENT],
    [new EmptyDistributionError(4, ['ban_tokens']), Status.FAILED_PRECONDITION],
  ])('%s keeps its meaning', (error, code) => {
    const status = toStatusObject(error, logger, 'test');
    expect(status.code).toBe(code);
    expect(status.details).toBe(error.message);
  });

  it('an unexpected error becomes INTERNAL with a generic message; the cause goes to the log only', () => {
    const cause = new TypeError('secret internals at line 42');
    const status = toStatusObject(cause, logger, 'Decode #1');
    expect(status).toMatchObject({ code: Status.INTERNAL, details: INTERNAL_ERROR_MESSAGE });
    expect(status.details).not.toContain('secret');
    expect(logger.causes).toContain(cause);
    expect(logger.lines.at(-1)).toContain('Decode #1');
  });
});

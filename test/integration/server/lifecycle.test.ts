/**
 * A stream's life seen from clients: shutdown drains (open streams run to their end, new calls are refused,
 * health says NOT_SERVING, the rest end with UNAVAILABLE after the drain timeout); a client that never
 * answers is ended with DEADLINE_EXCEEDED and its slot and state are freed; a stream beyond the limit
 * waits for a slot in arrival order, up to the queue timeout; keepalive notices a peer that stopped
 * answering; an aged connection goes away while its stream runs on.
 */
import { connectivityState, credentials, status as Status } from '@grpc/grpc-js';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { StepwiseServiceClient } from '../../../src/gen/stepwise/v1/stepwise.js';
import { tinyModels } from '../../fixtures/models.js';
import { DecodeStream, generateAll, unary, type CallStatus } from '../../support/decode-client.js';
import { acceptToEnd, HELD_TEXT as TEXT, lockstepAwaitingStep0, stalledAuto, until } from '../../support/held-streams.js';
import { ACCEPT } from '../../support/lockstep.js';
import { probe } from '../../support/metrics-client.js';
import { isServiceError, startTestServer, type TestServer, type TestServerOptions } from '../../support/test-server.js';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
});

async function serve(options: Omit<TestServerOptions, 'modelDir'>): Promise<TestServer> {
  server = await startTestServer({ modelDir: tinyModels.reluTied, ...options });
  return server;
}

async function refusal(call: Promise<unknown>): Promise<CallStatus> {
  const error = await call.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!isServiceError(error)) throw new Error(`expected a refusal, got ${String(error)}`);
  return { code: error.code, details: error.details };
}

describe('shutdown drains', () => {
  it('open AUTO and LOCKSTEP streams finish while new calls get UNAVAILABLE and health says NOT_SERVING', async () => {
    const own = await serve({ lifecycle: { drainTimeoutMs: 60_000 } });
    const lockstep = await lockstepAwaitingStep0(own.newClient());
    const auto = await stalledAuto(own.newClient());
    const stopping = own.app.server.stop();
    await own.waitForHealth('NOT_SERVING');
    const refused = DecodeStream.open(own.newClient());
    refused.start({ input: TEXT });
    expect(await refused.status).toEqual({ code: Status.UNAVAILABLE, details: 'the server is shutting down; retry on another instance' });
    const generated = await generateAll(own.client, { input: TEXT, maxNewTokens: 2 });
    expect(generated.status.code).toBe(Status.UNAVAILABLE);
    expect((await refusal(unary(own.client, 'getModelInfo', {}))).code).toBe(Status.UNAVAILABLE);
    expect(own.app.server.openStreams).toBe(2);

    const lockstepEnd = await acceptToEnd(lockstep);
    expect(lockstepEnd).toEqual({ finished: true, status: { code: Status.OK, details: 'OK' } });
    auto.call.resume();
    const autoEnd = await auto.drain();
    expect(autoEnd.messages.at(-1)?.$case).toBe('finished');
    expect(autoEnd.status.code).toBe(Status.OK);
    await stopping;
    expect(own.logger.lines.some((line) => line.includes('drained: the last stream ended'))).toBe(true);
  });

  it('streams still open when the drain timeout passes end with UNAVAILABLE and free their states', async () => {
    const own = await serve({ lifecycle: { drainTimeoutMs: 300 } });
    const lockstep = await lockstepAwaitingStep0(own.newClient());
    const auto = await stalledAuto(own.newClient());
    const stopping = own.app.server.stop();
    expect(await lockstep.status).toEqual({ code: Status.UNAVAILABLE, details: 'the server is shutting down; retry on another instance' });
    // Its status waits behind the steps it did not read yet.
    auto.call.resume();
    expect((await auto.drain()).status.code).toBe(Status.UNAVAILABLE);
    await stopping;
    expect(own.app.model.liveStates).toBe(0);
    expect(own.logger.lines.some((line) => line.includes('drain timeout passed with 2 streams open'))).toBe(true);
  });
});

describe('shutdown delay', () => {
  it('health says NOT_SERVING and /readyz 503 at once, new calls are still served until the delay passes, then refused', async () => {
    const own = await serve({ lifecycle: { shutdownDelayMs: 2_000, drainTimeoutMs: 60_000 }, metrics: true });
    const lockstep = await lockstepAwaitingStep0(own.newClient());
    const stopping = own.app.server.stop();
    await own.waitForHealth('NOT_SERVING');
    expect(await probe(own.app.metricsPort!, '/readyz')).toBe(503);
    const during = await generateAll(own.client, { input: TEXT, maxNewTokens: 2 });
    expect(during.status.code).toBe(Status.OK);
    expect(during.messages.at(-1)?.$case).toBe('finished');
    await until('new calls refused', async () => (await generateAll(own.client, { input: TEXT, maxNewTokens: 2 })).status.code === Status.UNAVAILABLE);
    expect(await acceptToEnd(lockstep)).toEqual({ finished: true, status: { code: Status.OK, details: 'OK' } });
    await stopping;
    expect(own.logger.lines.some((line) => line.includes('new calls are still served for 2 s (--shutdown-delay), then refused'))).toBe(true);
  });
});

describe('decision timeout', () => {
  it('a LOCKSTEP stream with no decision ends with DEADLINE_EXCEEDED naming the step, its slot and state freed', async () => {
    const own = await serve({ lifecycle: { decisionTimeoutMs: 300 } });
    const stream = await lockstepAwaitingStep0(own.client, 10);
    for (const step of [0, 1]) {
      stream.decide({ step, action: ACCEPT });
      await stream.expect('token');
      expect((await stream.expect('logits')).step).toBe(step + 1);
    }
    expect(own.app.model.liveStates).toBe(1);
    expect(await stream.status).toEqual({
      code: Status.DEADLINE_EXCEEDED,
      details: 'no decision for step 2 within 0.3 s (`--decision-timeout`)',
    });
    await own.settled();
  });

  it('a Decode stream that sends no Start ends with DEADLINE_EXCEEDED, its slot freed', async () => {
    const own = await serve({ lifecycle: { decisionTimeoutMs: 300 }, limits: { maxConcurrentStreams: 1 } });
    const silent = DecodeStream.open(own.client);
    expect(await silent.status).toEqual({ code: Status.DEADLINE_EXCEEDED, details: 'no `start` message within 0.3 s (`--decision-timeout`)' });
    await own.settled();
    const next = await lockstepAwaitingStep0(own.client, 1);
    expect((await acceptToEnd(next)).finished).toBe(true);
  });
});

describe('queue', () => {
  it('at capacity, new streams wait and get slots in arrival order as they free', async () => {
    const own = await serve({ limits: { maxConcurrentStreams: 2 }, lifecycle: { queueTimeoutMs: 60_000 } });
    const holders = [await lockstepAwaitingStep0(own.newClient()), await lockstepAwaitingStep0(own.newClient())];
    const third = DecodeStream.open(own.newClient());
    third.start({ input: TEXT, maxNewTokens: 1 });
    await until('the third stream queued', () => own.app.server.queuedStreams === 1);
    const fourth = DecodeStream.open(own.newClient());
    fourth.start({ input: TEXT, maxNewTokens: 1 });
    await until('the fourth stream queued', () => own.app.server.queuedStreams === 2);

    expect((await acceptToEnd(holders[0]!)).finished).toBe(true);
    await third.expect('started');
    expect(own.app.server.queuedStreams).toBe(1);
    expect((await acceptToEnd(holders[1]!)).finished).toBe(true);
    await fourth.expect('started');
    expect(own.app.server.queuedStreams).toBe(0);
    for (const stream of [third, fourth]) {
      await stream.expect('logits');
      stream.decide({ step: 0, action: ACCEPT });
      expect((await stream.drain()).status.code).toBe(Status.OK);
      stream.call.end();
    }
  });

  it('a stream whose queue timeout passes gets RESOURCE_EXHAUSTED naming the limit and the wait', async () => {
    const own = await serve({ limits: { maxConcurrentStreams: 1 }, lifecycle: { queueTimeoutMs: 300 } });
    const holder = await lockstepAwaitingStep0(own.newClient());
    const late = DecodeStream.open(own.newClient());
    late.start({ input: TEXT });
    expect(await late.status).toEqual({
      code: Status.RESOURCE_EXHAUSTED,
      details: 'at most 1 streams may be open at once (`max_concurrent_streams`); none was freed within 0.3 s of waiting (`--queue-timeout`)',
    });
    expect(own.app.server.queuedStreams).toBe(0);
    expect((await acceptToEnd(holder)).finished).toBe(true);
  });

  it('a waiting stream whose client cancels leaves the queue', async () => {
    const own = await serve({ limits: { maxConcurrentStreams: 1 }, lifecycle: { queueTimeoutMs: 60_000 } });
    const holder = await lockstepAwaitingStep0(own.newClient());
    const waiting = DecodeStream.open(own.newClient());
    waiting.start({ input: TEXT });
    await until('the stream queued', () => own.app.server.queuedStreams === 1);
    waiting.call.cancel();
    await until('the stream left the queue', () => own.app.server.queuedStreams === 0);
    expect((await acceptToEnd(holder)).finished).toBe(true);
  });

  it('streams waiting when shutdown begins get UNAVAILABLE at once', async () => {
    const own = await serve({ limits: { maxConcurrentStreams: 1 }, lifecycle: { queueTimeoutMs: 60_000, drainTimeoutMs: 60_000 } });
    const holder = await lockstepAwaitingStep0(own.newClient());
    const waiting = DecodeStream.open(own.newClient());
    waiting.start({ input: TEXT });
    await until('the stream queued', () => own.app.server.queuedStreams === 1);
    const stopping = own.app.server.stop();
    expect((await waiting.status).code).toBe(Status.UNAVAILABLE);
    expect((await acceptToEnd(holder)).finished).toBe(true);
    await stopping;
  });
});

describe('connections', () => {
  it('a connection older than the maximum age is asked to go away while its stream runs to its end', async () => {
    const own = await serve({ lifecycle: { maxConnectionAgeMs: 300 } });
    const client = own.newClient();
    const stream = await lockstepAwaitingStep0(client);
    const channel = client.getChannel();
    expect(channel.getConnectivityState(false)).toBe(connectivityState.READY);
    // GOAWAY puts the client's channel back to IDLE; the stream on the old connection goes on.
    await until('the connection went away', () => channel.getConnectivityState(false) !== connectivityState.READY);
    expect(await acceptToEnd(stream)).toEqual({ finished: true, status: { code: Status.OK, details: 'OK' } });
    const again = await lockstepAwaitingStep0(client, 1);
    expect((await acceptToEnd(again)).finished).toBe(true);
  });

  it('keepalive ends the streams of a peer that stopped answering', async () => {
    const own = await serve({ lifecycle: { keepaliveTimeMs: 200, keepaliveTimeoutMs: 200, decisionTimeoutMs: 0 } });
    const proxy = await freezableProxy(own.address);
    const client = new StepwiseServiceClient(proxy.address, credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
    try {
      const stream = await lockstepAwaitingStep0(client);
      proxy.freeze();
      await own.settled(10_000);
      stream.call.cancel();
    } finally {
      proxy.close();
      client.close();
    }
  });
});

/** A TCP proxy to `target` whose `freeze` stops moving bytes both ways without closing anything: a dead peer. */
async function freezableProxy(target: string): Promise<{ address: string; freeze(): void; close(): void }> {
  const [host, port] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))];
  const pairs: Array<[Socket, Socket]> = [];
  const proxy: Server = createServer((downstream) => {
    const upstream = createConnection({ host, port });
    downstream.pipe(upstream);
    upstream.pipe(downstream);
    for (const socket of [downstream, upstream]) socket.on('error', () => {});
    pairs.push([downstream, upstream]);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const address = proxy.address();
  if (address === null || typeof address === 'string') throw new Error('the proxy has no port');
  return {
    address: `127.0.0.1:${address.port}`,
    freeze() {
      for (const [downstream, upstream] of pairs) {
        downstream.unpipe(upstream);
        upstream.unpipe(downstream);
        downstream.pause();
        upstream.pause();
      }
    },
    close() {
      for (const pair of pairs) for (const socket of pair) socket.destroy();
      proxy.close();
    },
  };
}

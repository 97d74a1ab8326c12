/**
 * However a stream ends early — the client cancels, its deadline passes, the server shuts down — its decode
 * state is freed at once and its stream slot is given back.
 */
import { status as Status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DecodeMode } from '../../../src/gen/stepwise/v1/stepwise.js';
import { tinyModels } from '../../fixtures/models.js';
import { DecodeStream, generateAll } from '../../support/decode-client.js';
import { ACCEPT } from '../../support/lockstep.js';
import { startTestServer, type TestServer } from '../../support/test-server.js';

const TEXT = { $case: 'text', value: 'the small green house' } as const;

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ modelDir: tinyModels.reluTied });
});
afterAll(async () => server?.stop());

describe('cancellation', () => {
  it('cancelling after the first step frees the decode state', async () => {
    const stream = DecodeStream.open(server.client);
    stream.start({ input: TEXT, maxNewTokens: 20 });
    await stream.expect('started');
    await stream.expect('logits');
    stream.decide({ step: 0, action: ACCEPT });
    await stream.expect('token');
    await stream.expect('logits');
    expect(server.app.model.liveStates).toBe(1);
    stream.call.cancel();
    expect((await stream.status).code).toBe(Status.CANCELLED);
    await server.settled(2_000);
  });

  it('cancelling an AUTO stream while it decodes frees the decode state', async () => {
    const stream = DecodeStream.open(server.client);
    stream.start({ input: TEXT, mode: DecodeMode.DECODE_MODE_AUTO, maxNewTokens: 500, minNewTokens: 500 });
    await stream.expect('started');
    for (let tokens = 0; tokens < 5; ) if ((await stream.next())?.message?.$case === 'token') tokens++;
    stream.call.cancel();
    expect((await stream.status).code).toBe(Status.CANCELLED);
    await server.settled(2_000);
  });

  it('a deadline that passes while a step awaits its decision ends the call and frees the state', async () => {
    const stream = DecodeStream.open(server.client, { deadline: new Date(Date.now() + 300) });
    stream.start({ input: TEXT });
    await stream.expect('started');
    await stream.expect('logits');
    expect((await stream.status).code).toBe(Status.DEADLINE_EXCEEDED);
    await server.settled(2_000);
  });

  it('a deadline that passes during Generate ends the call and frees the state', async () => {
    const { status } = await generateAll(
      server.client,
      { input: TEXT, maxNewTokens: 500, minNewTokens: 500 },
      { deadline: new Date(Date.now() + 100) },
    );
    expect(status.code).toBe(Status.DEADLINE_EXCEEDED);
    await server.settled(2_000);
  });

  it('a hundred streams cancelled at random points leave no state alive', async () => {
    await Promise.all(
      Array.from({ length: 100 }, async (_, i) => {
        const stream = DecodeStream.open(server.newClient());
        stream.start({ input: TEXT, mode: i % 2 === 0 ? DecodeMode.DECODE_MODE_AUTO : DecodeMode.DECODE_MODE_LOCKSTEP, maxNewTokens: 50 });
        if (i % 3 !== 0) await stream.expect('started');
        stream.call.cancel();
        await stream.status;
      }),
    );
    await server.settled(5_000);
  });
});

describe('shutdown', () => {
  it('open streams end with UNAVAILABLE and free their states when the server shuts down', async () => {
    const own = await startTestServer({ modelDir: tinyModels.reluTied });
    const waiting = DecodeStream.open(own.client);
    waiting.start({ input: TEXT });
    await waiting.expect('started');
    await waiting.expect('logits');
    const decoding = DecodeStream.open(own.newClient());
    decoding.start({ input: TEXT, mode: DecodeMode.DECODE_MODE_AUTO, maxNewTokens: 500, minNewTokens: 500 });
    await decoding.expect('started');
    const stopping = own.app.server.stop();
    for (const stream of [waiting, decoding]) {
      const { status } = await stream.drain();
      expect(status.code).toBe(Status.UNAVAILABLE);
      expect(status.details).toContain('shutting down');
    }
    await stopping;
    expect(own.app.model.liveStates).toBe(0);
    await own.stop();
  });
});

/**
 * Every RPC ends with one access line: method, peer, caller, status code, duration and, for a stream, its
 * model, input length, tokens, steps and finish reason. Nothing the client sent as credentials appears in
 * the log; health and reflection calls write none.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Metadata, status as Status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DecodeMode, GenerateRequest, Start } from '../../../src/gen/stepwise/v1/stepwise.js';
import type { LoggedEntry } from '../../../src/server/logger.js';
import { tinyModels } from '../../fixtures/models.js';
import { DecodeStream, unary } from '../../support/decode-client.js';
import { ACCEPT } from '../../support/lockstep.js';
import { isServiceError, startTestServer, type TestServer } from '../../support/test-server.js';

const TEXT = { $case: 'text', value: 'the small green house' } as const;
const SECRET = 'Bearer s3cret-t0ken-never-logged';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ modelDir: tinyModels.reluTied });
});
afterAll(async () => server?.stop());

function accessLines(): LoggedEntry[] {
  return server.logger.entries.filter((entry) => entry.fields.kind === 'access');
}

/** The access line of the call numbered `call` (e.g. "Decode #3"), or of the last call of `method`, once written. */
async function accessLine(match: (entry: LoggedEntry) => boolean, timeoutMs = 5_000): Promise<LoggedEntry> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = accessLines().filter(match).at(-1);
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`no such access line in ${timeoutMs} ms; have:\n${JSON.stringify(accessLines(), null, 1)}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A token in the call's metadata, and a name the client claims for itself (authentication replaces it). */
function withCredentials(): Metadata {
  const metadata = new Metadata();
  metadata.set('authorization', SECRET);
  metadata.set('stepwise-caller', 'mallory');
  return metadata;
}

describe('access lines', () => {
  it('a Decode writes its method, peer, caller, code, duration, model, tokens, steps and finish reason', async () => {
    const before = accessLines().length;
    const stream = new DecodeStream(server.client.decode(withCredentials()));
    stream.start({ input: TEXT, maxNewTokens: 3, minNewTokens: 3 });
    await stream.expect('started');
    for (let step = 0; step < 3; step++) {
      await stream.expect('logits');
      stream.decide({ step, action: ACCEPT });
      await stream.expect('token');
    }
    await stream.expect('finished');
    stream.call.end();
    expect((await stream.status).code).toBe(Status.OK);
    const line = await accessLine((entry) => entry.fields.method === 'Decode');
    expect(accessLines().length).toBe(before + 1);
    expect(line.level).toBe('info');
    expect(line.message).toMatch(/^Decode OK in [\d.]+ ms$/);
    expect(line.fields).toMatchObject({
      kind: 'access',
      method: 'Decode',
      call: expect.stringMatching(/^Decode #\d+$/),
      peer: expect.stringMatching(/127\.0\.0\.1:\d+$/),
      caller: 'anonymous',
      code: 'OK',
      durationMs: expect.any(Number),
      model: 'tiny-relu-tied',
      inputTokens: expect.any(Number),
      tokens: 3,
      steps: 3,
      finishReason: 'max_new_tokens',
    });
    expect(JSON.stringify(server.logger.entries)).not.toContain('s3cret');
  });

  it('a Generate names the caller that authentication put on the call, and never the token', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'stepwise-access-'));
    const tokenFile = join(folder, 'tokens.txt');
    writeFileSync(tokenFile, `alice:${SECRET.slice('Bearer '.length)}\n`);
    const secured = await startTestServer({ modelDir: tinyModels.reluTied, security: { tokenFile } });
    try {
      const request = GenerateRequest.fromPartial({ start: Start.fromPartial({ input: TEXT, maxNewTokens: 4, minNewTokens: 4 }) });
      await new Promise<void>((resolve, reject) => {
        const call = secured.client.generate(request, withCredentials());
        call.on('data', () => {});
        call.on('error', reject);
        call.on('end', resolve);
      });
      const lines = () => secured.logger.entries.filter((entry) => entry.fields.kind === 'access' && entry.fields.method === 'Generate');
      for (let wait = 0; lines().length === 0 && wait < 500; wait++) await new Promise((resolve) => setTimeout(resolve, 10));
      expect(lines()[0]!.fields).toMatchObject({ caller: 'alice', code: 'OK', tokens: 4, steps: 4, finishReason: 'max_new_tokens' });
      expect(JSON.stringify(secured.logger.entries)).not.toContain('s3cret');
    } finally {
      await secured.stop();
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it('a refused Start writes its code and the message the client got, as an info line', async () => {
    const stream = DecodeStream.open(server.client);
    stream.start({ input: TEXT, maxNewTokens: 100_000 });
    const status = await stream.status;
    expect(status.code).toBe(Status.INVALID_ARGUMENT);
    const line = await accessLine((entry) => entry.fields.method === 'Decode' && entry.fields.code === 'INVALID_ARGUMENT');
    expect(line.level).toBe('info');
    expect(line.fields).toMatchObject({ details: status.details, tokens: 0, steps: 0 });
    expect(line.fields.details).toContain('max_new_tokens');
  });

  it('a stream its client cancels writes CANCELLED with the tokens it had', async () => {
    const stream = DecodeStream.open(server.client);
    stream.start({ input: TEXT, mode: DecodeMode.DECODE_MODE_AUTO, maxNewTokens: 500, minNewTokens: 500 });
    const started = await stream.expect('started');
    expect(started.modelName).toBe('tiny-relu-tied');
    for (let tokens = 0; tokens < 3; ) if ((await stream.next())?.message?.$case === 'token') tokens++;
    stream.call.cancel();
    const line = await accessLine((entry) => entry.fields.code === 'CANCELLED');
    expect(line.fields.tokens).toBeGreaterThanOrEqual(3);
    expect(line.fields.finishReason).toBeUndefined();
    await server.settled();
  });

  it('forced tokens and rewinds are counted on the line', async () => {
    const stream = DecodeStream.open(server.client);
    stream.start({ input: TEXT, maxNewTokens: 4 });
    await stream.expect('started');
    await stream.expect('logits');
    stream.decide({ step: 0, action: { $case: 'forceToken', value: { tokenId: 5 } } });
    await stream.expect('token');
    await stream.expect('logits');
    stream.decide({ step: 1, action: { $case: 'rewind', value: { count: 1 } } });
    await stream.expect('logits');
    stream.stop();
    await stream.drain();
    stream.call.end();
    const line = await accessLine((entry) => entry.fields.method === 'Decode' && entry.fields.finishReason === 'client_stop');
    expect(line.fields).toMatchObject({ code: 'OK', forcedTokens: 1, rewinds: 1, tokens: 0 });
  });

  it('unary calls write their line too, with the code of a refusal', async () => {
    await unary(server.client, 'getModelInfo', {});
    expect((await accessLine((entry) => entry.fields.method === 'GetModelInfo')).fields).toMatchObject({
      code: 'OK',
      caller: 'anonymous',
      peer: expect.stringMatching(/127\.0\.0\.1:\d+$/),
    });
    const refused = await unary(server.client, 'detokenize', { tokenIds: [1_000_000] }).catch((error: unknown) => error);
    expect(isServiceError(refused) && refused.code).toBe(Status.INVALID_ARGUMENT);
    const line = await accessLine((entry) => entry.fields.method === 'Detokenize');
    expect(line.fields).toMatchObject({ code: 'INVALID_ARGUMENT', details: (refused as { details: string }).details });
    expect(line.fields.model).toBeUndefined();
  });

  it('health checks write no access line', async () => {
    const before = accessLines().length;
    expect(await server.health()).toBe('SERVING');
    expect(accessLines().length).toBe(before);
  });
});

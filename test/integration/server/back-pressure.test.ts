/**
 * A client that stops reading stops its stream: the server does not decode ahead into unbounded buffers,
 * and picks up where it stopped once the client reads again.
 */
import { status as Status } from '@grpc/grpc-js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DecodeMode, FinishReason } from '../../../src/gen/stepwise/v1/stepwise.js';
import { tinyModels } from '../../fixtures/models.js';
import { DecodeStream } from '../../support/decode-client.js';
import { startTestServer, type TestServer } from '../../support/test-server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ modelDir: tinyModels.reluTied, limits: { maxNewTokens: 600 } });
});
afterAll(async () => server?.stop());

it('a stream whose client stops reading waits for it, then finishes every step once it reads again', async () => {
  const stream = DecodeStream.open(server.client);
  stream.start({
    input: { $case: 'text', value: 'the small green house' },
    mode: DecodeMode.DECODE_MODE_AUTO,
    maxNewTokens: 600,
    minNewTokens: 600,
    stream: { processedScores: true, topNAlternatives: 8 },
  });
  await stream.expect('started');
  stream.call.pause();
  // Unthrottled, the 600 steps (about 3 MB of messages, far beyond the transport's buffers) finish and free
  // the state in about a second; held back by the paused reader, the stream is still open with its state.
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  expect(server.app.server.openStreams).toBe(1);
  expect(server.app.model.liveStates).toBe(1);
  stream.call.resume();
  const { messages, status } = await stream.drain();
  stream.call.end();
  expect(status.code).toBe(Status.OK);
  const finished = messages.at(-1);
  expect(finished?.$case === 'finished' && finished.value.reason).toBe(FinishReason.FINISH_REASON_MAX_NEW_TOKENS);
  expect(messages.filter((m) => m.$case === 'token')).toHaveLength(600);
});

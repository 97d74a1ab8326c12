/**
 * A slow reader costs the server a bounded buffer, and nothing to the other streams: an AUTO stream with
 * full float32 rows whose client stops reading stops decoding once the transport is full; the bytes it has
 * written and the transport has not taken (`stepwise_response_buffered_bytes`, read from /metrics) stay
 * under a bound while it waits, and another stream's step times are those it has alone (passing the
 * stalled stream's position costs it at most one scheduler wait, `maxWaitMs`). The figures are printed.
 */
import { status as Status } from '@grpc/grpc-js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DecodeMode, FinishReason, LogitsFormat, type Finished } from '../../../src/gen/stepwise/v1/stepwise.js';
import { tinyModels } from '../../fixtures/models.js';
import { DecodeStream } from '../../support/decode-client.js';
import { scrapeMetrics, type Scrape } from '../../support/metrics-client.js';
import { startTestServer, type TestServer } from '../../support/test-server.js';

const SLOW_TOKENS = 600;
const OTHER_TOKENS = 200;
/** A row of the tiny model is 606 float32 values (2.4 KB); a bound far above what the transport holds. */
const BUFFERED_BOUND_BYTES = 1024 * 1024;

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ modelDir: tinyModels.reluTied, limits: { maxNewTokens: SLOW_TOKENS }, metrics: true });
});
afterAll(async () => server?.stop());

function autoStart(tokens: number, text: string) {
  return {
    input: { $case: 'text', value: text },
    mode: DecodeMode.DECODE_MODE_AUTO,
    maxNewTokens: tokens,
    minNewTokens: tokens,
    stream: { rawLogits: LogitsFormat.LOGITS_FORMAT_FLOAT32 },
  } as const;
}

/** Another AUTO stream, read as fast as it comes; its per-step times (`Finished.timings.step_ms`). */
async function otherStream(): Promise<number[]> {
  const stream = DecodeStream.open(server.newClient());
  stream.start(autoStart(OTHER_TOKENS, 'translate English to German: the blue door'));
  const { messages, status } = await stream.drain();
  stream.call.end();
  expect(status.code).toBe(Status.OK);
  const finished = messages.at(-1);
  if (finished?.$case !== 'finished') throw new Error('the stream did not finish');
  return (finished.value as Finished).timings!.stepMs;
}

function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function scrape(): Promise<Scrape> {
  return scrapeMetrics(server.app.metricsPort!);
}

it('a client that stops reading holds a bounded buffer on the server, and another stream steps as fast as alone', async () => {
  await otherStream(); // warm-up
  const alone = await otherStream();

  const slow = DecodeStream.open(server.client);
  slow.start(autoStart(SLOW_TOKENS, 'the small green house'));
  await slow.expect('started');
  slow.call.pause();
  // The server writes until the transport is full, then waits for the reader.
  for (let waited = 0; (await scrape()).value('stepwise_streams_waiting_for_reader') !== 1; waited += 10) {
    if (waited > 10_000) throw new Error('the slow stream never waited for its reader');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const held = await scrape();
  const besideSlow = await otherStream();
  const later = await scrape();

  const buffered = [held, later].map((sample) => sample.value('stepwise_response_buffered_bytes')!);
  const model = { model: server.app.catalog.default.name };
  const tokensWhileHeld = later.value('stepwise_tokens_generated_total', model)! - held.value('stepwise_tokens_generated_total', model)!;
  process.stdout.write(
    `slow reader: the server held ${buffered.map((bytes) => `${(bytes / 1024).toFixed(0)} KB`).join(', then ')} of its responses; ` +
      `the slow stream took ${tokensWhileHeld - OTHER_TOKENS} tokens meanwhile\n` +
      `  other stream's step ms alone: median ${quantile(alone, 0.5).toFixed(2)}, p90 ${quantile(alone, 0.9).toFixed(2)}, max ${Math.max(...alone).toFixed(2)}; ` +
      `beside the slow reader: median ${quantile(besideSlow, 0.5).toFixed(2)}, p90 ${quantile(besideSlow, 0.9).toFixed(2)}, max ${Math.max(...besideSlow).toFixed(2)}\n`,
  );
  for (const bytes of buffered) {
    expect(bytes).toBeGreaterThan(0);
    expect(bytes).toBeLessThan(BUFFERED_BOUND_BYTES);
  }
  // While it waits, the slow stream takes no token: all the tokens counted meanwhile are the other stream's.
  expect(tokensWhileHeld).toBe(OTHER_TOKENS);
  expect(later.value('stepwise_streams_waiting_for_reader')).toBe(1);
  // Generous: the machine is shared; a stream held up by the slow one would take several times longer.
  expect(quantile(besideSlow, 0.5)).toBeLessThan(3 * quantile(alone, 0.5) + 1);

  slow.call.resume();
  const { messages, status } = await slow.drain();
  slow.call.end();
  expect(status.code).toBe(Status.OK);
  const finished = messages.at(-1);
  expect(finished?.$case === 'finished' && finished.value.reason).toBe(FinishReason.FINISH_REASON_MAX_NEW_TOKENS);
  expect((await scrape()).value('stepwise_response_buffered_bytes')).toBe(0);
  // The machine's own noise, for the printed figures: the other stream alone again.
  const aloneAgain = await otherStream();
  process.stdout.write(`  alone again after: median ${quantile(aloneAgain, 0.5).toFixed(2)}, p90 ${quantile(aloneAgain, 0.9).toFixed(2)}\n`);
});

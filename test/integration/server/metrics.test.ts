/**
 * The HTTP endpoint of a server started with metrics: Prometheus text on /metrics whose counters follow
 * what clients did, histograms with their buckets, process metrics; /healthz while the process answers,
 * /readyz only while gRPC health is SERVING. Each server keeps its own registry.
 */
import { status as Status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DecodeMode } from '../../../src/gen/stepwise/v1/stepwise.js';
import { tinyModels } from '../../fixtures/models.js';
import { DecodeStream, generateAll, unary } from '../../support/decode-client.js';
import { ACCEPT } from '../../support/lockstep.js';
import { probe, scrapeMetrics, type Scrape } from '../../support/metrics-client.js';
import { startTestServer, type TestServer } from '../../support/test-server.js';

const TEXT = { $case: 'text', value: 'the small green house' } as const;

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ modelDir: tinyModels.reluTied, metrics: true });
});
afterAll(async () => server?.stop());

/** The labels of the (only) model's series, with `more`. */
function model(more: Readonly<Record<string, string>> = {}): Record<string, string> {
  return { model: server.app.catalog.default.name, ...more };
}

/** Runs an AUTO stream to its end; returns how many tokens it was sent. */
async function autoStream(tokens: number): Promise<number> {
  const stream = DecodeStream.open(server.newClient());
  stream.start({ input: TEXT, mode: DecodeMode.DECODE_MODE_AUTO, maxNewTokens: tokens, minNewTokens: tokens });
  const { messages, status } = await stream.drain();
  stream.call.end();
  expect(status.code).toBe(Status.OK);
  return messages.filter((message) => message.$case === 'token').length;
}

/** A LOCKSTEP stream that forces a token, rewinds it, accepts one and stops; returns the tokens it was sent. */
async function steeredStream(): Promise<number> {
  const stream = DecodeStream.open(server.client);
  stream.start({ input: TEXT, maxNewTokens: 8 });
  await stream.expect('started');
  await stream.expect('logits');
  stream.decide({ step: 0, action: { $case: 'forceToken', value: { tokenId: 5 } } });
  await stream.expect('token');
  await stream.expect('logits');
  stream.decide({ step: 1, action: { $case: 'rewind', value: { count: 1 } } });
  await stream.expect('logits');
  stream.decide({ step: 0, action: ACCEPT });
  await stream.expect('token');
  await stream.expect('logits');
  stream.stop();
  await stream.drain();
  stream.call.end();
  return 2;
}

describe('/metrics', () => {
  let scrape: Scrape;
  let tokens = 0;
  beforeAll(async () => {
    const counts = await Promise.all([autoStream(12), autoStream(12), autoStream(12), steeredStream()]);
    const generated = await generateAll(server.client, { input: TEXT, maxNewTokens: 5, minNewTokens: 5 });
    const refused = await generateAll(server.client, { input: TEXT, maxNewTokens: 100_000 });
    expect(refused.status.code).toBe(Status.INVALID_ARGUMENT);
    await unary(server.client, 'tokenize', { text: 'the house' });
    tokens = counts.reduce((sum, count) => sum + count, 0) + generated.messages.filter((message) => message.$case === 'token').length;
    await server.settled();
    scrape = await scrapeMetrics(server.app.metricsPort!);
  });

  it('counts RPCs by method and status code', () => {
    expect(scrape.value('stepwise_rpcs_total', { method: 'Decode', code: 'OK' })).toBe(4);
    expect(scrape.value('stepwise_rpcs_total', { method: 'Generate', code: 'OK' })).toBe(1);
    expect(scrape.value('stepwise_rpcs_total', { method: 'Generate', code: 'INVALID_ARGUMENT' })).toBe(1);
    expect(scrape.value('stepwise_rpcs_total', { method: 'Tokenize', code: 'OK' })).toBe(1);
    expect(scrape.type('stepwise_rpcs_total')).toBe('counter');
  });

  it("counts tokens, forced tokens and rewinds as the streams took them, in the model's series", () => {
    expect(scrape.value('stepwise_tokens_generated_total', model())).toBe(tokens);
    expect(scrape.value('stepwise_forced_tokens_total', model())).toBe(1);
    expect(scrape.value('stepwise_rewinds_total', model())).toBe(1);
    // A single-model server names its model too: there is no series without the label.
    expect(scrape.value('stepwise_tokens_generated_total')).toBeUndefined();
  });

  it('has histograms of step time, time to first logits, decoder batch size and encoder input length, with their buckets', () => {
    const steps = scrape.value('stepwise_step_seconds_count', model())!;
    expect(steps).toBeGreaterThanOrEqual(tokens);
    expect(scrape.value('stepwise_step_seconds_bucket', model({ le: '+Inf' }))).toBe(steps);
    expect(scrape.value('stepwise_step_seconds_bucket', model({ le: '0.001' }))).toBeDefined();
    expect(scrape.value('stepwise_time_to_first_logits_seconds_count', model())).toBe(5);
    expect(scrape.value('stepwise_encoder_input_tokens_count', model())).toBe(5);
    expect(scrape.value('stepwise_encoder_input_tokens_sum', model())).toBeGreaterThan(5);
    const runs = scrape.value('stepwise_decoder_batch_size_count', model())!;
    // Every step ran in some decoder run; concurrent AUTO streams shared some of theirs.
    expect(scrape.value('stepwise_decoder_batch_size_sum', model())).toBeGreaterThanOrEqual(steps);
    expect(runs).toBeLessThan(steps);
    expect(scrape.value('stepwise_decoder_batch_size_bucket', model({ le: '1' }))).toBeLessThan(runs);
    expect(scrape.type('stepwise_step_seconds')).toBe('histogram');
  });

  it('reads open streams, busy time and the model thread run-ahead counts when scraped', () => {
    expect(scrape.value('stepwise_streams_open')).toBe(0);
    expect(scrape.value('stepwise_streams_queued')).toBe(0);
    expect(scrape.value('stepwise_streams_waiting_for_reader')).toBe(0);
    expect(scrape.value('stepwise_response_buffered_bytes')).toBe(0);
    expect(scrape.value('stepwise_model_busy_seconds_total', model())).toBeGreaterThan(0);
    const ratio = scrape.value('stepwise_model_busy_ratio', model())!;
    expect(ratio).toBeGreaterThan(0);
    expect(ratio).toBeLessThanOrEqual(1);
    const guesses = scrape.value('stepwise_run_ahead_guesses_total', model())!;
    expect(guesses).toBeGreaterThan(0);
    expect(scrape.value('stepwise_run_ahead_hits_total', model())).toBeGreaterThan(0);
    expect(scrape.value('stepwise_run_ahead_hits_total', model())).toBeLessThanOrEqual(guesses);
  });

  it("includes prom-client's process metrics", () => {
    expect(scrape.value('process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(scrape.text).toContain('nodejs_eventloop_lag_seconds');
    expect(scrape.text).toContain('nodejs_heap_size_used_bytes');
  });

  it('shows a stream open while it is', async () => {
    const stream = DecodeStream.open(server.client);
    stream.start({ input: TEXT, maxNewTokens: 4 });
    await stream.expect('started');
    await stream.expect('logits');
    expect((await scrapeMetrics(server.app.metricsPort!)).value('stepwise_streams_open')).toBe(1);
    stream.stop();
    await stream.drain();
    stream.call.end();
    await server.settled();
    expect((await scrapeMetrics(server.app.metricsPort!)).value('stepwise_streams_open')).toBe(0);
  });
});

describe('/metrics of a server with two models', () => {
  let two: TestServer;
  beforeAll(async () => {
    two = await startTestServer({
      models: [
        { name: 'tied', dir: tinyModels.reluTied },
        { name: 'padded', dir: tinyModels.padded },
      ],
      metrics: true,
    });
  });
  afterAll(async () => two?.stop());

  /** Generates `tokens` tokens on `model` with Generate (AUTO); returns how many it was sent. */
  async function generateOn(model: string, tokens: number): Promise<number> {
    const { messages, status } = await generateAll(two.client, { input: TEXT, model, maxNewTokens: tokens, minNewTokens: tokens });
    expect(status.code).toBe(Status.OK);
    return messages.filter((message) => message.$case === 'token').length;
  }

  it("has every model's series from the start, at 0", async () => {
    const scrape = await scrapeMetrics(two.app.metricsPort!);
    for (const model of ['tied', 'padded']) {
      expect(scrape.value('stepwise_tokens_generated_total', { model })).toBe(0);
      expect(scrape.value('stepwise_decoder_batch_size_count', { model })).toBe(0);
      expect(scrape.value('stepwise_step_seconds_count', { model })).toBe(0);
      expect(scrape.value('stepwise_model_busy_seconds_total', { model })).toBeDefined();
      expect(scrape.value('stepwise_run_ahead_guesses_total', { model })).toBe(0);
    }
  });

  it("counts each model's streams, steps and decoder runs in its own series", async () => {
    const tied = (await Promise.all([generateOn('tied', 9), generateOn('tied', 9), generateOn('tied', 9)])).reduce((sum, count) => sum + count, 0);
    const padded = await generateOn('padded', 4);
    await two.settled();
    const scrape = await scrapeMetrics(two.app.metricsPort!);
    const value = (name: string, model: string): number => scrape.value(name, { model })!;
    expect([tied, padded]).toEqual([27, 4]);
    expect(value('stepwise_tokens_generated_total', 'tied')).toBe(tied);
    expect(value('stepwise_tokens_generated_total', 'padded')).toBe(padded);
    expect(value('stepwise_encoder_input_tokens_count', 'tied')).toBe(3);
    expect(value('stepwise_encoder_input_tokens_count', 'padded')).toBe(1);
    expect(value('stepwise_time_to_first_logits_seconds_count', 'tied')).toBe(3);
    expect(value('stepwise_time_to_first_logits_seconds_count', 'padded')).toBe(1);
    for (const [model, tokens] of [['tied', tied], ['padded', padded]] as const) {
      // One step per token (AUTO, no rewinds), and the model's decoder runs stepped exactly its own streams' states.
      expect(value('stepwise_step_seconds_count', model)).toBe(tokens);
      expect(value('stepwise_decoder_batch_size_sum', model)).toBe(tokens);
      expect(value('stepwise_model_busy_seconds_total', model)).toBeGreaterThan(0);
      const guesses = value('stepwise_run_ahead_guesses_total', model);
      expect(guesses).toBeGreaterThan(0);
      expect(value('stepwise_run_ahead_hits_total', model)).toBeLessThanOrEqual(guesses);
    }
    // The padded model's one stream ran alone: every one of its runs stepped one state.
    expect(scrape.value('stepwise_decoder_batch_size_bucket', { model: 'padded', le: '1' })).toBe(value('stepwise_decoder_batch_size_count', 'padded'));
    // Three concurrent streams shared some of the tied model's runs.
    expect(value('stepwise_decoder_batch_size_count', 'tied')).toBeLessThan(value('stepwise_step_seconds_count', 'tied'));
  });
});

describe('probes', () => {
  it('/healthz and /readyz answer 200 while serving; anything else is 404', async () => {
    const port = server.app.metricsPort!;
    expect(await probe(port, '/healthz')).toBe(200);
    expect(await probe(port, '/readyz')).toBe(200);
    expect(await probe(port, '/nothing')).toBe(404);
  });

  it('/readyz answers 503 once shutdown begins, while /healthz still answers 200; the endpoint closes with the server', async () => {
    const other = await startTestServer({ modelDir: tinyModels.reluTied, metrics: true });
    const port = other.app.metricsPort!;
    expect(port).not.toBe(server.app.metricsPort);
    try {
      expect(await probe(port, '/readyz')).toBe(200);
      // Each server has its own registry: the other one has served nothing.
      expect((await scrapeMetrics(port)).value('stepwise_rpcs_total', { method: 'Decode', code: 'OK' })).toBeUndefined();
      await other.app.server.stop();
      expect(await probe(port, '/readyz')).toBe(503);
      expect(await probe(port, '/healthz')).toBe(200);
    } finally {
      await other.stop();
    }
    await expect(probe(port, '/healthz')).rejects.toThrow();
  });
});

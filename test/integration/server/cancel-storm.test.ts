/**
 * A storm of streams that end mid-stream, cancelled by their client or cut by the client process dying:
 * the open-stream count read from /metrics is back to 0 within 1 s, no decode state is left alive, and the
 * server's memory comes back to its level (the figures are printed).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { status as Status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DecodeMode } from '../../../src/gen/stepwise/v1/stepwise.js';
import { StepScheduler } from '../../../src/runtime/step-scheduler.js';
import { WorkerModel } from '../../../src/runtime/worker/index.js';
import { tinyModels } from '../../fixtures/models.js';
import { DecodeStream } from '../../support/decode-client.js';
import { scrapeMetrics } from '../../support/metrics-client.js';
import { startTestServer, type TestServer } from '../../support/test-server.js';

const STREAMS = 100;
/** The bound for the open-stream count to be back to 0 after the storm. */
const BACK_TO_ZERO_MS = 1_000;
const MB = 1024 * 1024;

// A full collection before each measurement, so the figures compare live memory rather than garbage.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ modelDir: tinyModels.reluTied, limits: { maxConcurrentStreams: 2 * STREAMS }, metrics: true });
});
afterAll(async () => server?.stop());

/** Opens `count` AUTO streams and resolves once each has received a token (all are mid-stream then). */
async function openMidStream(count: number): Promise<DecodeStream[]> {
  const clients = Array.from({ length: 4 }, () => server.newClient());
  return Promise.all(
    Array.from({ length: count }, async (_, index) => {
      const stream = DecodeStream.open(clients[index % clients.length]!);
      stream.start({
        input: { $case: 'text', value: 'the small green house' },
        mode: DecodeMode.DECODE_MODE_AUTO,
        maxNewTokens: 500,
        minNewTokens: 500,
        stream: { topNAlternatives: 4 },
      });
      while ((await stream.next())?.message?.$case !== 'token');
      return stream;
    }),
  );
}

/** Milliseconds from now until /metrics reports no open stream; throws past `limitMs`. */
async function msUntilNoStreamOpen(limitMs: number): Promise<number> {
  const begin = performance.now();
  for (;;) {
    const open = (await scrapeMetrics(server.app.metricsPort!)).value('stepwise_streams_open');
    const elapsed = performance.now() - begin;
    if (open === 0) return elapsed;
    if (elapsed > limitMs) throw new Error(`${open} streams still open ${Math.round(elapsed)} ms after the storm`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * The server's memory after a full collection: this process's RSS and heap (the server's, and the
 * in-process clients'), and the model thread's heap and buffers.
 */
async function memory(): Promise<{ rssMb: number; heapMb: number; threadMb: number }> {
  collectGarbage();
  const inner = (server.app.model as StepScheduler).inner;
  const thread = inner instanceof WorkerModel ? await inner.threadMemory() : undefined;
  const threadBytes = thread === undefined ? 0 : thread.heapUsed + thread.external;
  const { rss, heapUsed } = process.memoryUsage();
  return { rssMb: rss / MB, heapMb: heapUsed / MB, threadMb: threadBytes / MB };
}

function describeMemory(before: Awaited<ReturnType<typeof memory>>, after: Awaited<ReturnType<typeof memory>>): string {
  const pair = (from: number, to: number): string => `${from.toFixed(1)} → ${to.toFixed(1)} MB`;
  return `RSS ${pair(before.rssMb, after.rssMb)}, heap ${pair(before.heapMb, after.heapMb)}, model thread ${pair(before.threadMb, after.threadMb)}`;
}

/** Memory is back to its level: what 100 streams held (their states, rows, messages) is gone. */
function expectBackToLevel(before: Awaited<ReturnType<typeof memory>>, after: Awaited<ReturnType<typeof memory>>): void {
  expect(after.heapMb).toBeLessThan(before.heapMb + 8);
  expect(after.threadMb).toBeLessThan(before.threadMb + 8);
}

describe('cancel storm', () => {
  const figures: string[] = [];
  afterAll(() => {
    process.stdout.write(`cancel storm figures:\n  ${figures.join('\n  ')}\n`);
  });

  it(`${STREAMS} streams cancelled mid-stream: no stream open within 1 s, no state alive`, async () => {
    // One storm first, so that what a storm allocates once (pools, buffers, code) is in the baseline.
    for (const stream of await openMidStream(STREAMS)) stream.call.cancel();
    await server.settled();
    const before = await memory();
    const streams = await openMidStream(STREAMS);
    expect((await scrapeMetrics(server.app.metricsPort!)).value('stepwise_streams_open')).toBe(STREAMS);
    for (const stream of streams) stream.call.cancel();
    const ms = await msUntilNoStreamOpen(BACK_TO_ZERO_MS);
    for (const stream of streams) expect((await stream.status).code).toBe(Status.CANCELLED);
    await server.settled();
    const after = await memory();
    figures.push(`cancelled: open streams 0 after ${ms.toFixed(0)} ms; ${describeMemory(before, after)}`);
    expectBackToLevel(before, after);
  });

  it(`${STREAMS} streams whose client process is killed mid-stream: no stream open within 1 s, no state alive`, async () => {
    const before = await memory();
    const client = spawn(process.execPath, ['--import', 'tsx', 'test/support/storm-client.ts', server.address, String(STREAMS)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    client.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    while (!output.includes('ready')) {
      if (client.exitCode !== null) throw new Error(`the client process exited with ${client.exitCode}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect((await scrapeMetrics(server.app.metricsPort!)).value('stepwise_streams_open')).toBe(STREAMS);
    client.kill('SIGKILL');
    await once(client, 'exit');
    const ms = await msUntilNoStreamOpen(BACK_TO_ZERO_MS);
    await server.settled();
    const after = await memory();
    figures.push(`client killed: open streams 0 after ${ms.toFixed(0)} ms (from its exit); ${describeMemory(before, after)}`);
    expectBackToLevel(before, after);
  });
});

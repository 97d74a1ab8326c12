/**
 * One request must not hurt anyone else: huge texts, id lists, pipelines and names are refused with
 * INVALID_ARGUMENT naming the bound, before any costly work, and health checks keep answering promptly
 * while they are (their worst latency during each request is measured and bounded here).
 */
import { credentials, makeClientConstructor, status as Status, type ServiceError } from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DecodeStream, generateAll, unary } from '../../support/decode-client.js';
import { startTestServer, type TestServer } from '../../support/test-server.js';
import { processor } from '../../support/wire-params.js';
import { tinyModels } from '../../fixtures/models.js';

/** Health checks of the server every 5 ms; `worst()` is the longest answer since `reset()`. */
interface HealthClient {
  check(request: { service: string }, callback: (error: ServiceError | null) => void): void;
  close(): void;
}

class HealthWatch {
  private readonly client: HealthClient;
  private timer: NodeJS.Timeout | undefined;
  private longest = 0;
  private closed = false;

  constructor(address: string) {
    const Client = makeClientConstructor(healthService, 'grpc.health.v1.Health');
    this.client = new Client(address, credentials.createInsecure()) as unknown as HealthClient;
  }

  start(): void {
    const check = (): void => {
      if (this.closed) return;
      const begin = performance.now();
      this.client.check({ service: '' }, (error) => {
        if (error === null) this.longest = Math.max(this.longest, performance.now() - begin);
        this.timer = setTimeout(check, 5);
      });
    };
    check();
  }

  reset(): void {
    this.longest = 0;
  }

  worst(): number {
    return this.longest;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.client.close();
  }
}

/** The bound on a health check's latency while one of these requests is handled (2 cores, shared). */
const HEALTH_BOUND_MS = 250;

let server: TestServer;
let health: HealthWatch;
beforeAll(async () => {
  server = await startTestServer({ modelDir: tinyModels.reluTied });
  health = new HealthWatch(server.address);
  health.start();
  await new Promise((resolve) => setTimeout(resolve, 50));
});
afterAll(async () => {
  health?.close();
  await server?.stop();
});

/** Runs `request` with the health watch reset, and returns its outcome and the worst health latency. */
async function measured<T>(request: () => Promise<T>): Promise<{ outcome: T; worstHealthMs: number }> {
  health.reset();
  const outcome = await request();
  await new Promise((resolve) => setTimeout(resolve, 20));
  return { outcome, worstHealthMs: health.worst() };
}

async function unaryStatus(method: 'tokenize' | 'detokenize', request: object): Promise<{ code: Status; details: string }> {
  try {
    await unary(server.client, method, request as never);
    return { code: Status.OK, details: '' };
  } catch (error) {
    const failed = error as { code: Status; details: string };
    return { code: failed.code, details: failed.details };
  }
}

describe('texts are bounded in bytes before they are tokenized', () => {
  it.each([
    ['250,000 × "x" in Start', { $case: 'text', value: 'x'.repeat(250_000) }],
    ['124,414 × "中" in Start', { $case: 'text', value: '中'.repeat(124_414) }],
  ] as const)('%s: INVALID_ARGUMENT naming max_input_bytes, health prompt meanwhile', async (_label, input) => {
    const { outcome, worstHealthMs } = await measured(() => generateAll(server.client, { input, maxNewTokens: 2 }));
    expect(outcome.status.code).toBe(Status.INVALID_ARGUMENT);
    expect(outcome.status.details).toMatch(/^`text` must be at most \d+ bytes of UTF-8 \(`max_input_bytes`\); given (at least )?\d+ bytes$/);
    expect(worstHealthMs).toBeLessThan(HEALTH_BOUND_MS);
  });

  it('3.9 MB of text is past the largest message the server takes: RESOURCE_EXHAUSTED before it is read', async () => {
    const { outcome, worstHealthMs } = await measured(() => generateAll(server.client, { input: { $case: 'text', value: 'x'.repeat(3_900_000) } }));
    expect(outcome.status.code).toBe(Status.RESOURCE_EXHAUSTED);
    expect(worstHealthMs).toBeLessThan(HEALTH_BOUND_MS);
  });

  it('Tokenize of 150,000 × "house " is refused naming max_input_bytes; a text at the limit is tokenized', async () => {
    const { outcome, worstHealthMs } = await measured(() => unaryStatus('tokenize', { text: 'house '.repeat(150_000) }));
    expect(outcome.code).toBe(Status.INVALID_ARGUMENT);
    expect(outcome.details).toContain('`max_input_bytes`');
    expect(worstHealthMs).toBeLessThan(HEALTH_BOUND_MS);
    const limit = server.app.limits.maxInputBytes;
    expect((await unaryStatus('tokenize', { text: 'a'.repeat(limit) })).code).toBe(Status.OK);
    expect((await unaryStatus('tokenize', { text: 'a'.repeat(limit + 1) })).code).toBe(Status.INVALID_ARGUMENT);
  });
});

describe('lists are bounded', () => {
  it('Detokenize of 1,000,000 ids is refused naming the limit', async () => {
    const { outcome, worstHealthMs } = await measured(() => unaryStatus('detokenize', { tokenIds: new Array<number>(1_000_000).fill(5) }));
    expect(outcome).toEqual({ code: Status.INVALID_ARGUMENT, details: `\`token_ids\` must hold at most ${server.app.limits.maxDetokenizeIds} ids; given 1000000` });
    expect(worstHealthMs).toBeLessThan(HEALTH_BOUND_MS);
  });

  it('a pipeline of 65 processors, a decision with 65 changes and a 257-character stop string are refused', async () => {
    const many = Array.from({ length: 65 }, (_, i) => processor(`p${i}`));
    const pipeline = await generateAll(server.client, { input: { $case: 'text', value: 'hi' }, processors: many });
    expect(pipeline.status).toEqual({ code: Status.INVALID_ARGUMENT, details: '`processors` must hold at most 64 processors; given 65' });
    const stop = await generateAll(server.client, { input: { $case: 'text', value: 'hi' }, stopStrings: ['s'.repeat(257)] });
    expect(stop.status).toEqual({ code: Status.INVALID_ARGUMENT, details: '`stop_strings[0]` must be at most 256 characters long; given 257' });
    const stream = DecodeStream.open(server.client);
    stream.start({ input: { $case: 'text', value: 'hi' }, maxNewTokens: 3 });
    await stream.expect('started');
    await stream.expect('logits');
    const change = { change: { $case: 'remove' as const, value: 'x' } };
    stream.decide({ step: 0, action: { $case: 'accept', value: {} }, pipelineChanges: Array.from({ length: 65 }, () => change) });
    expect(await stream.status).toEqual({ code: Status.INVALID_ARGUMENT, details: '`decision.pipeline_changes` must hold at most 64 changes; given 65' });
  });
});

describe('error messages stay short', () => {
  it('a 1 MB processor name comes back cut to a short message, which a default client accepts', async () => {
    const name = 'n'.repeat(1_000_000);
    const { status } = await generateAll(server.client, { input: { $case: 'text', value: 'hi' }, processors: [processor(name)] });
    expect(status.code).toBe(Status.INVALID_ARGUMENT);
    expect(status.details.length).toBeLessThanOrEqual(1024);
    expect(status.details).toContain('processors[0]');
  });
});

describe('GetModelInfo documents the bounds', () => {
  it('reports every limit a request is held to', async () => {
    const info = await unary(server.client, 'getModelInfo', {});
    const limits = server.app.limits;
    expect(info.limits).toMatchObject({
      maxInputBytes: limits.maxInputBytes,
      maxStopSequences: limits.maxStopSequences,
      maxStopStringLength: limits.maxStopStringLength,
      maxProcessors: 64,
      maxPipelineChanges: 64,
      maxTopNAlternatives: limits.maxTopNAlternatives,
      maxDetokenizeIds: limits.maxDetokenizeIds,
    });
  });
});

/**
 * `stepwise serve --log-format json --metrics-port 0`, as a real child process: every stderr line is one
 * JSON object; start-up says the effective configuration, each RPC ends with an access line (its caller,
 * never its token), the metrics endpoint answers, and shutdown is logged.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, Metadata } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GenerateRequest, GetModelInfoRequest, Start, StepwiseServiceClient } from '../../../src/gen/stepwise/v1/stepwise.js';
import { tinyModels } from '../../fixtures/models.js';
import { probe, scrapeMetrics } from '../../support/metrics-client.js';

type JsonLine = Record<string, unknown> & { level: string; msg: string };

const SECRET = 'Bearer cli-s3cret';

/** A `stepwise serve` child whose stderr is read line by line as JSON. */
class ServeChild {
  readonly lines: JsonLine[] = [];
  readonly unparsed: string[] = [];
  private pending = '';

  constructor(readonly process: ChildProcess) {
    process.stderr!.on('data', (chunk: Buffer) => {
      this.pending += chunk.toString();
      const complete = this.pending.split('\n');
      this.pending = complete.pop()!;
      for (const text of complete) {
        try {
          this.lines.push(JSON.parse(text) as JsonLine);
        } catch {
          this.unparsed.push(text);
        }
      }
    });
  }

  async line(match: (line: JsonLine) => boolean, timeoutMs = 60_000): Promise<JsonLine> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.lines.find(match);
      if (found !== undefined) return found;
      if (this.process.exitCode !== null || Date.now() > deadline) {
        throw new Error(`no such line (exit ${this.process.exitCode}):\n${this.lines.map((line) => JSON.stringify(line)).join('\n')}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

function serve(args: readonly string[]): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
}

describe('stepwise serve --log-format json --metrics-port 0', () => {
  let child: ServeChild;
  let client: StepwiseServiceClient;
  let metricsPort: number;
  beforeAll(async () => {
    const tokenFile = join(mkdtempSync(join(tmpdir(), 'stepwise-logs-')), 'tokens.txt');
    writeFileSync(tokenFile, `bob:${SECRET.slice('Bearer '.length)}\n`);
    child = new ServeChild(
      serve(['--port', '0', '--metrics-port', '0', '--log-format', 'json', '--model', tinyModels.reluTied, '--auth-token-file', tokenFile]),
    );
    const serving = await child.line((line) => /serving model/.test(line.msg));
    metricsPort = (await child.line((line) => typeof line.metricsPort === 'number')).metricsPort as number;
    client = new StepwiseServiceClient(`127.0.0.1:${serving.port as number}`, credentials.createInsecure());
  }, 90_000);
  afterAll(async () => {
    client?.close();
    if (child?.process.exitCode === null) {
      child.process.kill('SIGKILL');
      await once(child.process, 'exit');
    }
  });

  const withCaller = (): Metadata => {
    const metadata = new Metadata();
    metadata.set('authorization', SECRET);
    return metadata;
  };

  it('starts with one line that carries the effective configuration', async () => {
    const start = await child.line((line) => line.msg === 'starting stepwise serve');
    expect(start.level).toBe('info');
    expect(start.config).toMatchObject({ logFormat: 'json', logLevel: 'info', metricsPort: 0, port: 0, maxNewTokens: 512, model: [tinyModels.reluTied] });
    expect(typeof start.time).toBe('string');
  });

  it('writes an access line per RPC, with the caller and never the token', async () => {
    await new Promise<void>((resolve, reject) =>
      client.getModelInfo(GetModelInfoRequest.fromPartial({}), withCaller(), (error) => (error ? reject(error) : resolve())),
    );
    const unary = await child.line((line) => line.kind === 'access' && line.method === 'GetModelInfo');
    expect(unary).toMatchObject({ level: 'info', caller: 'bob', code: 'OK', durationMs: expect.any(Number) });
    await new Promise<void>((resolve, reject) => {
      const call = client.generate(
        GenerateRequest.fromPartial({ start: Start.fromPartial({ input: { $case: 'text', value: 'the house' }, maxNewTokens: 3, minNewTokens: 3 }) }),
        withCaller(),
      );
      call.on('data', () => {});
      call.on('error', reject);
      call.on('end', resolve);
    });
    const stream = await child.line((line) => line.kind === 'access' && line.method === 'Generate');
    expect(stream).toMatchObject({ caller: 'bob', code: 'OK', model: 'tiny-relu-tied', tokens: 3, steps: 3, finishReason: 'max_new_tokens' });
    expect(child.lines.map((line) => JSON.stringify(line)).join('\n')).not.toContain('s3cret');
  });

  it('serves /metrics, /healthz and /readyz on the metrics port', async () => {
    const scrape = await scrapeMetrics(metricsPort);
    expect(scrape.value('stepwise_rpcs_total', { method: 'GetModelInfo', code: 'OK' })).toBe(1);
    expect(scrape.value('process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(await probe(metricsPort, '/readyz')).toBe(200);
  });

  it('logs its shutdown and exits cleanly; every line it wrote was JSON', async () => {
    child.process.kill('SIGTERM');
    const [code] = await once(child.process, 'exit');
    expect(code).toBe(0);
    expect(child.lines.find((line) => line.msg === 'SIGTERM received; shutting down (send it again to exit at once)')).toMatchObject({ openStreams: 0 });
    expect(child.lines.find((line) => line.msg === 'stopped')).toMatchObject({ shutdownMs: expect.any(Number) });
    expect(child.unparsed).toEqual([]);
  });
});

describe('stepwise serve refuses bad log and metrics options', () => {
  it.each([
    { flag: '--log-format', value: 'xml', message: '`--log-format` must be one of json, pretty; given xml' },
    { flag: '--log-level', value: 'loud', message: '`--log-level` must be one of trace, debug, info, warn, error, fatal, silent; given loud' },
    { flag: '--metrics-port', value: '70000', message: '`--metrics-port` must be an integer in [0, 65535]; given 70000' },
  ])('refuses $flag $value, naming the rule', async ({ flag, value, message }) => {
    const process = serve(['--port', '0', flag, value]);
    let log = '';
    process.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
    const [code] = await once(process, 'exit');
    expect(code).not.toBe(0);
    expect(log).toContain(message);
  });
});

/**
 * `stepwise serve --ready-file`: a parent process learns the bound address from a file (or from one JSON
 * line on stdout) instead of the log, as the Python package's pytest fixture does.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { StepwiseClient } from '../../../clients/ts/index.js';
import { readyAnnouncement } from '../../../src/cli/ready-file.js';
import { tinyModels } from '../../fixtures/models.js';
import { until } from '../../support/held-streams.js';

const folder = mkdtempSync(join(tmpdir(), 'stepwise-ready-'));
let child: ChildProcessWithoutNullStreams | undefined;

/** `stepwise serve --port 0 ...args` on the tiny model, with what it wrote to stdout and stderr. */
function serve(args: readonly string[]): { child: ChildProcessWithoutNullStreams; stdout: () => string; stderr: () => string } {
  child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'serve', '--port', '0', '--model', tinyModels.reluTied, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, STEPWISE_LOG_FORMAT: 'json' },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return { child, stdout: () => stdout, stderr: () => stderr };
}

function running(process: ChildProcessWithoutNullStreams): boolean {
  return process.exitCode === null && process.signalCode === null;
}

async function modelNameAt(address: string): Promise<string> {
  const client = new StepwiseClient(address);
  try {
    return (await client.getModelInfo()).name;
  } finally {
    client.close();
  }
}

afterEach(() => {
  if (child !== undefined && running(child)) child.kill('SIGKILL');
  child = undefined;
});
afterAll(() => rmSync(folder, { recursive: true, force: true }));

describe('stepwise serve --ready-file', () => {
  it('writes the bound address, port and pid once serving, replacing a stale file, and removes it at shutdown', async () => {
    const file = join(folder, 'ready.json');
    writeFileSync(file, '{"address":"127.0.0.1:1","host":"127.0.0.1","port":1,"pid":1}\n'); // an earlier run's
    const served = serve(['--ready-file', file]);
    const seen: string[] = [];
    await until(
      'the ready file of this run',
      async () => {
        if (!running(served.child)) throw new Error(`stepwise serve exited:\n${served.stderr()}`);
        const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
        if (text !== '') seen.push(text);
        return text.includes(`"pid":${served.child.pid}`);
      },
      60_000,
    );
    const ready = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    expect(Object.keys(ready).sort()).toEqual(['address', 'host', 'pid', 'port']);
    expect(ready.host).toBe('127.0.0.1');
    expect(ready.port).toBeGreaterThan(0);
    expect(ready.address).toBe(`127.0.0.1:${String(ready.port)}`);
    // Every read of the file between start and ready was either the stale file (before start-up removed
    // it) or the whole new one: never a part of a line.
    for (const text of seen) expect(() => JSON.parse(text) as unknown).not.toThrow();
    expect(await modelNameAt(ready.address as string)).toBe('tiny-relu-tied');

    served.child.kill('SIGTERM');
    const [code] = (await once(served.child, 'exit')) as [number | null];
    expect(code).toBe(0);
    expect(existsSync(file)).toBe(false);
  });

  it('with "-" prints the same JSON as the first line of stdout, and nothing else there', async () => {
    const served = serve(['--ready-file', '-']);
    await until(
      'the ready line',
      async () => {
        if (!running(served.child)) throw new Error(`stepwise serve exited:\n${served.stderr()}`);
        return served.stdout().includes('\n');
      },
      60_000,
    );
    const ready = JSON.parse(served.stdout()) as { address: string; port: number; pid: number };
    expect(ready).toEqual(readyAnnouncement('127.0.0.1', ready.port, served.child.pid!));
    expect(await modelNameAt(ready.address)).toBe('tiny-relu-tied');
    served.child.kill('SIGTERM');
    await once(served.child, 'exit');
    expect(served.stdout().trim().split('\n')).toHaveLength(1);
  });

  it('a ready file that cannot be written stops the server with one line naming the file', async () => {
    const file = join(folder, 'no-such-folder', 'ready.json');
    const served = serve(['--ready-file', file]);
    const [code] = (await once(served.child, 'exit')) as [number | null];
    expect(code).toBe(1);
    expect(served.stderr()).toContain(`cannot start: cannot write the ready file ${file} (--ready-file): ENOENT`);
    expect(served.stderr()).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('a ready file path that is a folder is refused at start-up, naming it', async () => {
    const served = serve(['--ready-file', folder]);
    const [code] = (await once(served.child, 'exit')) as [number | null];
    expect(code).toBe(1);
    expect(served.stderr()).toContain(`cannot start: cannot remove the earlier ready file ${folder} (--ready-file): `);
  });
});

describe('the ready announcement', () => {
  it('writes an IPv6 host in brackets, as gRPC clients dial it', () => {
    expect(readyAnnouncement('::1', 50051, 7)).toEqual({ address: '[::1]:50051', host: '::1', port: 50051, pid: 7 });
    expect(readyAnnouncement('0.0.0.0', 50051, 7).address).toBe('0.0.0.0:50051');
  });
});

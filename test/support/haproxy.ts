/**
 * HAProxy as the load balancer in front of several servers: a child process (`haproxy -f CFG -db`) on a
 * configuration written by `deploy/haproxy/generate-config.mjs`, with its runtime API on a Unix socket to
 * read each server's state as HAProxy sees it.
 *
 * ```ts
 * const balancer = await startHaproxy((port, statsSocket) => haproxyConfig({ bind: `127.0.0.1:${port}`, statsSocket, replicas }));
 * await balancer.waitForStates({ 'replica-1': 'UP', 'replica-2': 'UP' });
 * ```
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { until } from './held-streams.js';

export interface Haproxy {
  readonly child: ChildProcessWithoutNullStreams;
  /** `127.0.0.1:PORT`, where clients connect. */
  readonly address: string;
  /** Everything it logged so far (one line per stream when the configuration logs). */
  log(): string;
  /** Each server of the backend by name, with its state as HAProxy's `show stat` gives it (`UP`, `DOWN`, `DOWN 1/2`, ...). */
  serverStates(): Promise<Record<string, string>>;
  /** Resolves once every server named has the state given. */
  waitForStates(states: Readonly<Record<string, string>>, timeoutMs?: number): Promise<void>;
  /** Stops HAProxy and removes its folder. */
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (HAProxy cannot bind port 0). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Sends one command to HAProxy's runtime API; its whole answer. */
function runtimeApi(socket: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let answer = '';
    const connection = createConnection(socket, () => connection.end(`${command}\n`));
    connection.on('data', (chunk) => (answer += chunk.toString()));
    connection.on('end', () => resolve(answer));
    connection.on('error', reject);
  });
}

/**
 * Starts HAProxy on `config(port, statsSocket)` and waits until its runtime API answers. The port is picked
 * free just before; if another process takes it first, HAProxy fails to bind and the start is tried again.
 */
export async function startHaproxy(config: (port: number, statsSocket: string) => string): Promise<Haproxy> {
  const folder = mkdtempSync(join(tmpdir(), 'stepwise-haproxy-'));
  const statsSocket = join(folder, 'runtime.sock');
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    writeFileSync(join(folder, 'haproxy.cfg'), config(port, statsSocket));
    const child = spawn('haproxy', ['-f', join(folder, 'haproxy.cfg'), '-db'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let log = '';
    child.stdout.on('data', (chunk: Buffer) => (log += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const answering = until('HAProxy runtime API answers', async () => (await runtimeApi(statsSocket, 'show info').catch(() => '')).includes('Pid:'));
    const outcome = await Promise.race([answering.then(() => 'up' as const), exited.then(() => 'exited' as const)]);
    if (outcome === 'exited') {
      if (attempt < 3 && log.includes('cannot bind socket')) continue;
      throw new Error(`haproxy exited before serving:\n${log}`);
    }
    const serverStates = async (): Promise<Record<string, string>> => {
      const csv = await runtimeApi(statsSocket, 'show stat');
      const [header, ...rows] = csv.trim().split('\n');
      const columns = header!.replace(/^# /, '').split(',');
      const [name, service, status] = ['pxname', 'svname', 'status'].map((column) => columns.indexOf(column));
      const states: Record<string, string> = {};
      for (const row of rows.map((line) => line.split(','))) {
        if (row[name!] === 'stepwise_replicas' && row[service!] !== 'BACKEND') states[row[service!]!] = row[status!]!;
      }
      return states;
    };
    return {
      child,
      address: `127.0.0.1:${port}`,
      log: () => log,
      serverStates,
      waitForStates: (wanted, timeoutMs = 15_000) =>
        until(
          `HAProxy sees ${JSON.stringify(wanted)}`,
          async () => {
            const states = await serverStates();
            return Object.entries(wanted).every(([server, state]) => states[server] === state);
          },
          timeoutMs,
        ),
      async stop() {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        await exited;
        rmSync(folder, { recursive: true, force: true });
      },
    };
  }
}

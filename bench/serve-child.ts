/**
 * `stepwise serve` as a child process, as users run it (`node --import tsx src/cli.ts serve --port 0 ...`):
 * resolves once it printed the address it serves on. For the benchmarks that measure the whole process
 * (its memory, its shutdown).
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface ServeChild {
  readonly child: ChildProcess;
  readonly pid: number;
  /** `127.0.0.1:PORT`. */
  readonly address: string;
  /** Resolves with the exit code (null when a signal ended it) and the time it exited (`performance.now()`). */
  readonly exited: Promise<{ code: number | null; at: number }>;
  /** What it logged so far. */
  log(): string;
}

export async function startServeChild(args: readonly string[]): Promise<ServeChild> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'serve', '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const exited = new Promise<{ code: number | null; at: number }>((resolve) =>
    child.once('exit', (code) => resolve({ code, at: performance.now() })),
  );
  const port = await new Promise<number>((resolve, reject) => {
    child.stderr!.on('data', (chunk: Buffer) => {
      log += chunk.toString();
      const serving = /serving model .* on 127\.0\.0\.1:(\d+)/.exec(log);
      if (serving) resolve(Number(serving[1]));
    });
    void exited.then(({ code }) => reject(new Error(`stepwise serve exited (${code}) before serving:\n${log}`)));
  });
  return { child, pid: child.pid!, address: `127.0.0.1:${port}`, exited, log: () => log };
}

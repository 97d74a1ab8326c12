/**
 * `stepwise serve` as users run it: a child process (`node --import tsx src/cli.ts serve --port 0 ...`),
 * its log collected, its bound address read from the line it prints when it serves.
 *
 * Usage:
 * ```ts
 * const served = await startServeProcess(['--drain-timeout', '5']);
 * const client = new StepwiseServiceClient(served.address, credentials.createInsecure());
 * served.child.kill('SIGTERM');
 * const { code } = await served.exited;
 * ```
 */
import { credentials, makeGenericClientConstructor, type ServiceError } from '@grpc/grpc-js';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { service as healthService } from 'grpc-health-check';

export interface ServeProcess {
  readonly child: ChildProcessWithoutNullStreams;
  /** `127.0.0.1:PORT`. */
  readonly address: string;
  /** The port of /metrics, /healthz and /readyz, when started with `--metrics-port`. */
  readonly metricsPort: number | undefined;
  /** Everything it logged so far (stdout and stderr). */
  log(): string;
  /** Resolves when it exits, with its exit code (or the signal that ended it). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** What gRPC health reports for the whole server now. */
  health(): Promise<string>;
  /** Kills it if it still runs and closes the health client. */
  close(): void;
}

export async function startServeProcess(args: readonly string[]): Promise<ServeProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'serve', '--port', '0', ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let log = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const port = await new Promise<number>((resolve, reject) => {
    const onOutput = (chunk: Buffer): void => {
      log += chunk.toString();
      const serving = /serving model .* on 127\.0\.0\.1:(\d+)/.exec(log);
      if (serving) resolve(Number(serving[1]));
    };
    child.stdout.on('data', onOutput);
    child.stderr.on('data', onOutput);
    void exited.then(({ code }) => reject(new Error(`stepwise serve exited (${code}) before serving:\n${log}`)));
  });
  const address = `127.0.0.1:${port}`;
  // The endpoint starts before the gRPC port: its line is in the log by now.
  const metrics = /metrics on http:\/\/127\.0\.0\.1:(\d+)\/metrics/.exec(log);
  const HealthClient = makeGenericClientConstructor(healthService, 'Health');
  const healthClient = new HealthClient(address, credentials.createInsecure());
  return {
    child,
    address,
    metricsPort: metrics ? Number(metrics[1]) : undefined,
    log: () => log,
    exited,
    health: () =>
      new Promise((resolve, reject) => {
        healthClient['check']!({ service: '' }, (error: ServiceError | null, response: { status: string }) =>
          error ? reject(error) : resolve(response.status),
        );
      }),
    close() {
      healthClient.close();
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

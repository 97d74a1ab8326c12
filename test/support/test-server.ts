/**
 * A real Stepwise server on 127.0.0.1 (ephemeral port) over a tiny fixture model, with real grpc-js
 * clients from the generated stubs. `stop()` checks that nothing is left alive: no open stream, no decode
 * state (the runtime's `liveStates`), then shuts the server down.
 *
 * Usage:
 * ```ts
 * const server = await startTestServer({ modelDir: tinyModels.reluTied });
 * // several models, by name (the first is the default):
 * // startTestServer({ models: [{ name: 'a', dir: tinyModels.reluTied }, { name: 'b', dir: tinyModels.padded }] })
 * const info = await unary(server.client, 'getModelInfo', {});
 * await server.stop();
 * ```
 */
import { credentials, makeGenericClientConstructor, type ChannelCredentials, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { composeServer, type ComposedServer } from '../../src/composition-root.js';
import { StepwiseServiceClient } from '../../src/gen/stepwise/v1/stepwise.js';
import { StepScheduler } from '../../src/runtime/step-scheduler.js';
import { WorkerModel, type WorkerModelOptions } from '../../src/runtime/worker/index.js';
import type { LifecycleOptions } from '../../src/server/lifecycle-options.js';
import { MemoryLogger } from '../../src/server/logger.js';
import { STEPWISE_SERVICE_NAME } from '../../src/server/proto-files.js';
import type { ServedModel } from '../../src/server/served-models.js';
import type { ServerLimits } from '../../src/server/server-limits.js';
import type { TransportSecuritySettings } from '../../src/server/transport-security.js';

export interface TestServerOptions {
  /** The one model to serve; or `models`. */
  readonly modelDir?: string;
  /** Several models to serve, by name (the composition's `models`). */
  readonly models?: readonly ServedModel[];
  readonly limits?: Partial<ServerLimits>;
  readonly plugins?: readonly string[];
  /** Model options (the composition's `load`). */
  readonly load?: WorkerModelOptions;
  /** TLS and tokens (the composition's `security`). */
  readonly security?: TransportSecuritySettings;
  /** The credentials of the server's own clients (`client`, `newClient`, health); default plaintext. */
  readonly clientCredentials?: ChannelCredentials;
  /** Drain, timeouts, keepalive, connection age (the composition's `lifecycle`). */
  readonly lifecycle?: Partial<LifecycleOptions>;
  /** Serve /metrics, /healthz and /readyz over HTTP on 127.0.0.1 (a free port, `app.metricsPort`). */
  readonly metrics?: boolean;
}

export interface TestServer {
  readonly address: string;
  readonly app: ComposedServer;
  /** A client connected to the server (closed by `stop`). */
  readonly client: StepwiseServiceClient;
  /** What the server logged. */
  readonly logger: MemoryLogger;
  /** Another client on its own channel (closed by `stop`). */
  newClient(): StepwiseServiceClient;
  /**
   * Resolves once no stream is open and no decode state is alive (on the main thread and on the model
   * thread), or rejects after `timeoutMs`.
   */
  settled(timeoutMs?: number): Promise<void>;
  /** Checks that nothing is left alive, then closes the clients and stops the server. */
  stop(): Promise<void>;
  /** What gRPC health reports now for `service` ("" by default: the whole server). */
  health(service?: string): Promise<string>;
  /**
   * Resolves once health reports `status` for "" and for `stepwise.v1.StepwiseService`, or rejects after
   * `timeoutMs`.
   */
  waitForHealth(status: 'SERVING' | 'NOT_SERVING', timeoutMs?: number): Promise<void>;
  /** Follows health for `service` ("" by default) with the `Watch` RPC: sees every change, however brief. */
  watchHealth(service?: string): HealthWatch;
}

/** A health `Watch` call; `close` it before `stop` (the server waits for open calls). */
export interface HealthWatch {
  /** The statuses reported so far, in order: the one at the start of the watch first. */
  readonly statuses: readonly string[];
  /** The next status not yet returned by `next` (waiting for it), or rejects after `timeoutMs`. */
  next(timeoutMs?: number): Promise<string>;
  close(): void;
}

export async function startTestServer(options: TestServerOptions): Promise<TestServer> {
  const logger = new MemoryLogger();
  const app = await composeServer({
    modelDir: options.modelDir,
    models: options.models,
    limits: options.limits,
    plugins: options.plugins,
    load: options.load,
    security: options.security,
    lifecycle: options.lifecycle,
    logger,
    ...(options.metrics === true && { metrics: { host: '127.0.0.1', port: 0 } }),
  });
  const port = await app.server.start({ host: '127.0.0.1', port: 0 });
  const address = `127.0.0.1:${port}`;
  const clients: StepwiseServiceClient[] = [];
  const newClient = (): StepwiseServiceClient => {
    const client = new StepwiseServiceClient(address, options.clientCredentials ?? credentials.createInsecure(), {
      'grpc.max_receive_message_length': -1,
      // A fresh channel per client: concurrency tests must not share one HTTP/2 connection by accident.
      'grpc.use_local_subchannel_pool': 1,
    });
    clients.push(client);
    return client;
  };
  const runtimes = app.catalog.models.map((model) => model.runtime);
  // While a model thread is being restarted, or after it could not be, there is no thread to hold states.
  const threadStates = async (): Promise<number> => {
    const counts = runtimes.map((runtime) => {
      const inner = runtime instanceof StepScheduler ? runtime.inner : runtime;
      return inner instanceof WorkerModel && inner.status === 'ready' ? inner.threadLiveStates() : Promise.resolve(0);
    });
    return (await Promise.all(counts)).reduce((sum, count) => sum + count, 0);
  };
  const liveStates = (): number => runtimes.reduce((sum, runtime) => sum + runtime.liveStates, 0);
  const settled = async (timeoutMs = 5_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const onThread = await threadStates();
      if (app.server.openStreams === 0 && liveStates() === 0 && onThread === 0) return;
      if (Date.now() > deadline) {
        throw new Error(
          `still alive after ${timeoutMs} ms: ${app.server.openStreams} open streams, ` +
            `${liveStates()} decode states, ${onThread} on the model threads`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };
  const HealthClient = makeGenericClientConstructor(healthService, 'Health');
  const healthClient = new HealthClient(address, options.clientCredentials ?? credentials.createInsecure());
  const health = (service = ''): Promise<string> =>
    new Promise((resolve, reject) => {
      healthClient['check']!({ service }, (error: ServiceError | null, response: { status: string }) =>
        error ? reject(error) : resolve(response.status),
      );
    });
  const waitForHealth = async (status: 'SERVING' | 'NOT_SERVING', timeoutMs = 10_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const now = await Promise.all([health(''), health(STEPWISE_SERVICE_NAME)]);
      if (now.every((reported) => reported === status)) return;
      if (Date.now() > deadline) throw new Error(`health still ${now.join(' / ')} after ${timeoutMs} ms; waited for ${status}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };
  const watchHealth = (service = ''): HealthWatch => {
    const call = healthClient['watch']!({ service }) as ClientReadableStream<{ status: string }>;
    const statuses: string[] = [];
    let taken = 0;
    let wake: (() => void) | undefined;
    call.on('data', (response: { status: string }) => {
      statuses.push(response.status);
      wake?.();
    });
    call.on('error', () => {}); // the cancel at `close`
    return {
      statuses,
      async next(timeoutMs = 10_000) {
        const deadline = Date.now() + timeoutMs;
        while (taken === statuses.length) {
          const left = deadline - Date.now();
          if (left <= 0) throw new Error(`no new health status for "${service}" in ${timeoutMs} ms; seen ${statuses.join(', ')}`);
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, left);
            wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
          wake = undefined;
        }
        return statuses[taken++]!;
      },
      close: () => call.cancel(),
    };
  };
  return {
    address,
    app,
    client: newClient(),
    logger,
    newClient,
    settled,
    health,
    waitForHealth,
    watchHealth,
    async stop() {
      try {
        await settled();
      } finally {
        for (const client of clients) client.close();
        healthClient.close();
        await app.dispose();
      }
    },
  };
}

/** The status code and message of a failed call. */
export function isServiceError(error: unknown): error is ServiceError {
  return typeof error === 'object' && error !== null && 'code' in error && 'details' in error;
}

/**
 * A real Stepwise server on 127.0.0.1 (ephemeral port) over a tiny fixture model, with real grpc-js
 * clients from the generated stubs. `stop()` checks that nothing is left alive: no open stream, no decode
 * state (the runtime's `liveStates`), then shuts the server down.
 *
 * Usage:
 * ```ts
 * const server = await startTestServer({ modelDir: tinyModels.reluTied });
 * const info = await unary(server.client, 'getModelInfo', {});
 * await server.stop();
 * ```
 */
import { credentials, type ServiceError } from '@grpc/grpc-js';
import { composeServer, type ComposedServer } from '../../src/composition-root.js';
import { StepwiseServiceClient } from '../../src/gen/stepwise/v1/stepwise.js';
import { StepScheduler } from '../../src/runtime/step-scheduler.js';
import { WorkerModel, type WorkerModelOptions } from '../../src/runtime/worker/index.js';
import { MemoryLogger } from '../../src/server/logger.js';
import type { ServerLimits } from '../../src/server/server-limits.js';

export interface TestServerOptions {
  readonly modelDir: string;
  readonly limits?: Partial<ServerLimits>;
  readonly plugins?: readonly string[];
  /** Model options (the composition's `load`). */
  readonly load?: WorkerModelOptions;
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
}

export async function startTestServer(options: TestServerOptions): Promise<TestServer> {
  const logger = new MemoryLogger();
  const app = await composeServer({
    modelDir: options.modelDir,
    limits: options.limits,
    plugins: options.plugins,
    load: options.load,
    logger,
  });
  const port = await app.server.start({ host: '127.0.0.1', port: 0 });
  const address = `127.0.0.1:${port}`;
  const clients: StepwiseServiceClient[] = [];
  const newClient = (): StepwiseServiceClient => {
    const client = new StepwiseServiceClient(address, credentials.createInsecure(), {
      'grpc.max_receive_message_length': -1,
      // A fresh channel per client: concurrency tests must not share one HTTP/2 connection by accident.
      'grpc.use_local_subchannel_pool': 1,
    });
    clients.push(client);
    return client;
  };
  const inner = app.model instanceof StepScheduler ? app.model.inner : app.model;
  const threadStates = (): Promise<number> =>
    inner instanceof WorkerModel ? inner.threadLiveStates() : Promise.resolve(0);
  const settled = async (timeoutMs = 5_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const onThread = await threadStates();
      if (app.server.openStreams === 0 && app.model.liveStates === 0 && onThread === 0) return;
      if (Date.now() > deadline) {
        throw new Error(
          `still alive after ${timeoutMs} ms: ${app.server.openStreams} open streams, ` +
            `${app.model.liveStates} decode states, ${onThread} on the model thread`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };
  return {
    address,
    app,
    client: newClient(),
    logger,
    newClient,
    settled,
    async stop() {
      try {
        await settled();
      } finally {
        for (const client of clients) client.close();
        await app.dispose();
      }
    },
  };
}

/** The status code and message of a failed call. */
export function isServiceError(error: unknown): error is ServiceError {
  return typeof error === 'object' && error !== null && 'code' in error && 'details' in error;
}

/**
 * Stepwise as a library: start a real server inside your own process, for integration tests over
 * localhost or an application that embeds it.
 *
 * ```ts
 * import { startServer } from 'stepwise';
 *
 * const server = await startServer();            // the embedded tiny model, on 127.0.0.1 and a free port
 * // ... talk to server.address with any gRPC client (the TypeScript client: new StepwiseClient(server.address))
 * await server.close();                          // drains, then frees the model
 * ```
 *
 * The embedded model is a tiny T5 with random weights, built on first use into `.cache/models/default` of
 * the installation (a few seconds once); pass `modelDir` to serve a real model folder.
 */
import { composeServer, type ComposedServer, type ServerComposition } from './composition-root.js';
import { ensureEmbeddedModel } from './embedded-model.js';
import type { Logger } from './server/logger.js';

export interface StartServerOptions extends Partial<Omit<ServerComposition, 'modelDir' | 'logger'>> {
  /** A model folder; default: the embedded tiny model. */
  readonly modelDir?: string;
  /** Address to bind; default 127.0.0.1. */
  readonly host?: string;
  /** Port to bind; default 0 (a free port, read back from `port`). */
  readonly port?: number;
  /** Where the server logs; default: nowhere (an embedded server stays quiet). */
  readonly logger?: Logger;
}

export interface RunningServer {
  /** `host:port`, ready for a gRPC client. */
  readonly address: string;
  readonly host: string;
  readonly port: number;
  /** The composed server, for what this façade does not cover (its model, limits, container). */
  readonly app: ComposedServer;
  /** Stops the server (open streams end) and frees the model; idempotent. */
  close(): Promise<void>;
}

/** A logger that drops everything. */
const SILENT: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** Starts a Stepwise server and resolves once it serves (health SERVING). */
export async function startServer(options: StartServerOptions = {}): Promise<RunningServer> {
  const { modelDir, host = '127.0.0.1', port = 0, logger = SILENT, ...composition } = options;
  const folder = modelDir ?? (await ensureEmbeddedModel()).folder;
  const app = await composeServer({ ...composition, modelDir: folder, logger });
  let bound: number;
  try {
    bound = await app.server.start({ host, port });
  } catch (error) {
    await app.dispose();
    throw error;
  }
  return { address: `${host}:${bound}`, host, port: bound, app, close: () => app.dispose() };
}

export type { ComposedServer, ServerComposition } from './composition-root.js';
export type { Logger } from './server/logger.js';
export type { ServerLimits } from './server/server-limits.js';

/**
 * The composition root: the one place where the dependency-injection container is assembled. Rooms export
 * classes and tokens; here the model (on its own thread, behind the step scheduler that batches concurrent
 * streams), the server's limits, the logger, the processor definitions (built-ins and plugins) and the
 * server's parts are put together in a child container per server, so two servers in one process (tests)
 * share nothing.
 *
 * Usage:
 * ```ts
 * const app = await composeServer({ modelDir: '.cache/models/default', plugins: ['./my-plugin.mjs'] });
 * // several models, each on its own thread behind its own scheduler; requests choose one by name:
 * // composeServer({ models: [{ name: 'small', dir: 'models/t5-small' }, { name: 'flan', dir: 'models/flan-t5-base' }] })
 * const port = await app.server.start({ host: '127.0.0.1', port: 50051 });
 * // with `metrics: { host: '127.0.0.1', port: 0 }`: /metrics, /healthz and /readyz on app.metricsPort
 * // ...
 * await app.dispose();   // stops the server gracefully, then releases the model and the container
 * ```
 */
import 'reflect-metadata';
import { container as rootContainer, type DependencyContainer } from 'tsyringe';
import { loadProcessorPlugins } from './processors/plugins.js';
import { ProcessorRegistry, registerBuiltinProcessors } from './processors/registry.js';
import { loadModel, type ModelRuntime } from './runtime/index.js';
import { StepScheduler, type StepSchedulerOptions } from './runtime/step-scheduler.js';
import { loadWorkerModel, WorkerModel, type WorkerModelOptions } from './runtime/worker/index.js';
import { ModelCatalog, type CatalogEntry } from './server/model-catalog.js';
import { servedModels, type ServedModel } from './server/served-models.js';
import { AccessLog } from './server/access-log.js';
import type { Logger } from './server/logger.js';
import { startMetricsEndpoint, type MetricsEndpoint } from './server/metrics-endpoint.js';
import { createLogger } from './server/pino-logger.js';
import { ServerMetrics } from './server/server-metrics.js';
import { StepwiseServer } from './server/server.js';
import { resolveServerLimits, type ServerLimits } from './server/server-limits.js';
import { EventLoopTurns } from './server/event-loop-turns.js';
import { resolveLifecycle, type LifecycleOptions } from './server/lifecycle-options.js';
import { createResponseEncoder, type ResponseEncoding } from './server/response-encoder.js';
import { SessionCalls } from './server/session-call.js';
import { SessionFactory } from './server/session-factory.js';
import { ShutdownSignal } from './server/shutdown-signal.js';
import { StreamingCalls } from './server/streaming-call.js';
import { StreamSlots } from './server/stream-slots.js';
import { TransportSecurity, type TransportSecuritySettings } from './server/transport-security.js';
import { LIFECYCLE_OPTIONS, LOGGER, MODEL_CATALOG, MODEL_RUNTIME, RESPONSE_ENCODER, SERVER_LIMITS, TRANSPORT_SECURITY } from './tokens.js';

export interface ServerComposition {
  /** The model folder to serve (named after the folder); `models` serves several instead. */
  readonly modelDir?: string;
  /**
   * The models to serve, by name; the first is the default. Each gets its own model thread and scheduler;
   * without `load.intraOpNumThreads`, they share the cores (`served-models.ts`).
   */
  readonly models?: readonly ServedModel[];
  /**
   * Options passed to `loadModel` (dtype, decoder layout, threads); `runAhead`, `threadNice` and the
   * restart options (`restartAttempts`, `restartDelayMs`) concern the worker runtime only.
   */
  readonly load?: WorkerModelOptions;
  /** Limits; unset ones take their defaults (`server-limits.ts`). */
  readonly limits?: Partial<ServerLimits>;
  /** Processor plugin modules, resolved against the working directory. */
  readonly plugins?: readonly string[];
  readonly logger?: Logger;
  /**
   * Where the model runs: `worker` (the default) gives it its own thread, so a decoder run never blocks
   * the event loop that serves gRPC; `in-process` runs it on this thread.
   */
  readonly runtime?: 'worker' | 'in-process';
  /** How concurrent streams' steps are batched (`StepScheduler`); unset fields take its defaults. */
  readonly scheduler?: StepSchedulerOptions;
  /** How streams' messages are encoded (`response-encoder.ts`); default `envelope`. */
  readonly responseEncoding?: ResponseEncoding;
  /** TLS, bearer tokens and their reload (`transport-security.ts`); default: plaintext, no tokens. */
  readonly security?: TransportSecuritySettings;
  /** Drain, timeouts, keepalive, connection age; unset ones take their defaults (`lifecycle-options.ts`). */
  readonly lifecycle?: Partial<LifecycleOptions>;
  /**
   * Where to serve `/metrics` (Prometheus), `/healthz` and `/readyz` over HTTP, from the moment the model
   * is loaded (port 0 picks a free one); unset: nowhere. The metrics are kept either way (`metrics`).
   */
  readonly metrics?: { readonly host: string; readonly port: number };
}

export interface ComposedServer {
  readonly server: StepwiseServer;
  /** The default model (the catalog's first). */
  readonly model: ModelRuntime;
  /** Every model served, by name. */
  readonly catalog: ModelCatalog;
  readonly limits: ServerLimits;
  /** TLS and tokens in force; `security.reload()` re-reads their files (what `serve` does on SIGHUP). */
  readonly security: TransportSecurity;
  readonly container: DependencyContainer;
  /** The server's metrics (its own registry). */
  readonly metrics: ServerMetrics;
  /** The bound port of the HTTP metrics endpoint; undefined when it is off. */
  readonly metricsPort: number | undefined;
  /** Stops the server (graceful), releases the model, disposes the container; idempotent. */
  dispose(): Promise<void>;
}

export async function composeServer(composition: ServerComposition): Promise<ComposedServer> {
  const logger = composition.logger ?? createLogger();
  // Before the model: a TLS or token file that cannot be used is reported without waiting for a model load.
  const security = await TransportSecurity.load(composition.security ?? {}, logger);
  const schedulers = await loadModels(composition);
  const model = schedulers[0]!.scheduler;
  try {
    const catalog = new ModelCatalog(schedulers.map((each) => catalogEntry(each, composition)));
    const limits = catalog.default.limits;
    const container = rootContainer.createChildContainer();
    container.register(MODEL_RUNTIME, { useValue: model });
    container.register(MODEL_CATALOG, { useValue: catalog });
    container.register(SERVER_LIMITS, { useValue: limits });
    container.register(LIFECYCLE_OPTIONS, { useValue: resolveLifecycle(composition.lifecycle ?? {}) });
    container.register(LOGGER, { useValue: logger });
    container.register(TRANSPORT_SECURITY, { useValue: security });
    registerBuiltinProcessors(container);
    const plugins = await loadProcessorPlugins(container, composition.plugins ?? []);
    if (plugins.length > 0) logger.info(`processor plugins loaded: ${plugins.join(', ')}`);
    container.registerSingleton(ProcessorRegistry);
    const slots = new StreamSlots(limits.maxConcurrentStreams);
    container.register(StreamSlots, { useValue: slots });
    const metrics = serverMetrics(slots, schedulers, composition.metrics !== undefined);
    container.register(ServerMetrics, { useValue: metrics });
    container.register(ShutdownSignal, { useValue: new ShutdownSignal() });
    // One of each per server: nothing a stream shares with the others outlives its server or reaches another.
    container.register(RESPONSE_ENCODER, { useValue: createResponseEncoder(composition.responseEncoding ?? 'envelope') });
    for (const part of [EventLoopTurns, AccessLog, StreamingCalls, SessionFactory, SessionCalls, StepwiseServer]) {
      container.registerSingleton(part as new (...args: never[]) => unknown);
    }
    for (const served of catalog.models) {
      const unused = container.resolve(SessionFactory).checkDefaults(served);
      const whose = catalog.models.length > 1 ? `model "${served.name}"'s` : "the model's";
      if (unused.length > 0) logger.warn(`${whose} generation_config.json sets ${unused.join(', ')}, which this server does not apply`);
    }
    const server = container.resolve(StepwiseServer);
    const endpoint = composition.metrics && (await serveMetrics(composition.metrics, metrics, server, logger));

    let disposing: Promise<void> | undefined;
    return {
      server,
      model,
      catalog,
      limits,
      security,
      container,
      metrics,
      metricsPort: endpoint?.port,
      dispose: () =>
        (disposing ??= (async () => {
          // Probes read 503 from /readyz while the server drains; the endpoint closes after it.
          security.close();
          await server.stop();
          await endpoint?.close();
          metrics.dispose();
          await Promise.all(schedulers.map(({ scheduler }) => scheduler.dispose()));
          await container.dispose();
        })()),
    };
  } catch (error) {
    await Promise.all(schedulers.map(({ scheduler }) => scheduler.dispose()));
    throw error;
  }
}

interface LoadedModel {
  readonly name: string;
  readonly loaded: ModelRuntime;
  readonly scheduler: StepScheduler;
}

/**
 * Loads every model at once, each on its own thread (or in process) behind its own scheduler; if one fails,
 * those loaded are released and the first failure is thrown.
 */
async function loadModels(composition: ServerComposition): Promise<LoadedModel[]> {
  const { models, load } = servedModels(composition.models, composition.modelDir, composition.load ?? {});
  const settled = await Promise.allSettled(
    models.map(async ({ name, dir, named }) => {
      const options = named ? { ...load, name } : load;
      const loaded = await loadOne(dir, options, composition.runtime);
      // Every stream asks for its own steps; the scheduler turns concurrent asks into batched decoder runs.
      // An unnamed folder goes by the name its loader gave it, the one `Started.model_name` reports.
      return { name: named ? name : loaded.info.name, loaded, scheduler: new StepScheduler(loaded, composition.scheduler) };
    }),
  );
  const failed = settled.find((each) => each.status === 'rejected');
  if (failed === undefined) return settled.map((each) => (each as PromiseFulfilledResult<LoadedModel>).value);
  await Promise.all(settled.map((each) => each.status === 'fulfilled' && each.value.scheduler.dispose()));
  throw failed.reason;
}

function loadOne(dir: string, load: WorkerModelOptions, runtime: ServerComposition['runtime']): Promise<ModelRuntime> {
  if (runtime !== 'in-process') return loadWorkerModel(dir, load);
  // In process there is no other thread: nothing to run ahead, no thread to renice or restart.
  const { runAhead: _runAhead, threadNice: _threadNice, restartAttempts: _restartAttempts, restartDelayMs: _restartDelayMs, ...inProcessLoad } = load;
  return loadModel(dir, inProcessLoad);
}

/** A loaded model as the catalog holds it, with the limits of requests to it (its input length bounds them). */
function catalogEntry({ name, scheduler }: LoadedModel, composition: ServerComposition): CatalogEntry {
  try {
    return { name, runtime: scheduler, limits: resolveServerLimits(composition.limits ?? {}, scheduler.info.maxInputLength) };
  } catch (error) {
    if (composition.models === undefined || composition.models.length < 2) throw error;
    throw new RangeError(`model "${name}": ${(error as Error).message}`);
  }
}

/**
 * The server's metrics, reading its slots and, per model (its series labelled with its name), its
 * scheduler and, on a worker thread, the thread's run-ahead counts.
 */
function serverMetrics(slots: StreamSlots, models: readonly LoadedModel[], processMetrics: boolean): ServerMetrics {
  const sources = models.map(({ name, loaded, scheduler }) => ({
    name,
    scheduler,
    runAhead: loaded instanceof WorkerModel ? () => loaded.threadRunAhead() : undefined,
  }));
  return new ServerMetrics({ slots, models: sources, processMetrics });
}

async function serveMetrics(
  address: { readonly host: string; readonly port: number },
  metrics: ServerMetrics,
  server: StepwiseServer,
  logger: Logger,
): Promise<MetricsEndpoint> {
  const endpoint = await startMetricsEndpoint({ ...address, registry: metrics.registry, ready: () => server.serving, logger });
  const url = `http://${address.host.includes(':') ? `[${address.host}]` : address.host}:${endpoint.port}`;
  logger.info(`metrics on ${url}/metrics; probes on ${url}/healthz and ${url}/readyz`, { metricsPort: endpoint.port });
  return endpoint;
}

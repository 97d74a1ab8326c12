/**
 * `stepwise serve`: loads a model folder (by default the embedded tiny model, built on first start) and
 * serves it over gRPC until SIGINT/SIGTERM, then drains (open streams run on for up to `--drain-timeout`)
 * and exits 0; a second signal exits at once, with 128 + the signal's number. SIGHUP re-reads the TLS
 * and token files.
 *
 * ```sh
 * npm start -- --model .cache/models/t5-small --port 50051 --plugin ./plugins/vowel-bias.mjs --max-streams 32
 * STEPWISE_PORT=50052 npm start -- --config serve.yaml      # a flag beats the file, the file the environment
 * npm start -- --log-format json --metrics-port 9464         # JSON lines on stderr; Prometheus on :9464/metrics
 * ```
 */
import { constants } from 'node:os';
import type { Command } from 'commander';
import { composeServer, type ComposedServer, type ServerComposition } from '../composition-root.js';
import { ensureEmbeddedModel } from '../embedded-model.js';
import { routeGrpcLogs, routeProcessWarnings } from '../server/log-routing.js';
import type { Logger } from '../server/logger.js';
import { createLogger } from '../server/pino-logger.js';
import { checkModelNames } from './model-option.js';
import { addOptions, resolveOptions } from './option-table.js';
import { ReadyFile } from './ready-file.js';
import { securitySettings } from './security-settings.js';
import { SERVE_OPTIONS, type ServeSettings } from './serve-options.js';

export function register(program: Command): void {
  const command = program
    .command('serve')
    .description(
      'Serve a T5 model folder over gRPC (stepwise.v1.StepwiseService, health, reflection). Every option can also be ' +
        'set in a config file (--config; its keys are the long flag names) or an environment variable; a flag wins ' +
        'over the file, the file over the environment.',
    )
    .option('--config <file>', 'read options from this JSON or YAML file [env STEPWISE_CONFIG]');
  addOptions(command, SERVE_OPTIONS);
  command.action(async (flags: Record<string, unknown>) => {
    // Until the options are read, lines are written in the default format.
    let logger: Logger = createLogger();
    try {
      const configPath = (flags.config as string | undefined) ?? process.env.STEPWISE_CONFIG;
      const settings = await resolveOptions(SERVE_OPTIONS, flags, process.env, configPath);
      logger = createLogger({ format: settings.logFormat, level: settings.logLevel });
      routeGrpcLogs(logger, settings.logLevel);
      routeProcessWarnings(logger);
      logger.info('starting stepwise serve', { config: effectiveConfig(settings, configPath) });
      await serve(settings, logger);
    } catch (error) {
      // A start-up failure (bad option, model folder, plugin, limit, busy port) is one line, not a stack trace.
      logger.error(`cannot start: ${error instanceof Error ? error.message : String(error)}`);
      process.exitCode = 1;
    }
  });
}

async function serve(settings: ServeSettings, logger: Logger): Promise<void> {
  const readyFile = settings.readyFile === undefined ? undefined : new ReadyFile(settings.readyFile);
  await readyFile?.clear();
  const app = await composeServer(await composition(settings, logger));
  try {
    const port = await app.server.start({ host: settings.host, port: settings.port });
    await readyFile?.announce(settings.host, port);
  } catch (error) {
    await app.dispose();
    throw error;
  }
  handleSignals(app, readyFile, logger);
}

/** What `settings` ask the composition root for: the models, their loading, limits, security, lifecycle. */
async function composition(settings: ServeSettings, logger: Logger): Promise<ServerComposition> {
  return {
    ...(await modelsToServe(settings, logger)),
    plugins: settings.plugin,
    load: {
      dtype: settings.dtype,
      ...(settings.threads !== undefined && { intraOpNumThreads: settings.threads }),
      intraOpSpinning: settings.spinning,
      runAhead: settings.runAhead,
      threadNice: settings.modelThreadNice,
    },
    logger,
    limits: {
      maxConcurrentStreams: settings.maxStreams,
      maxNewTokens: settings.maxNewTokens,
      maxBeams: settings.maxBeams,
      maxInputTokens: settings.maxInputTokens,
      maxInputBytes: settings.maxInputBytes,
      maxBranchesPerStream: settings.maxBranchesPerStream,
      maxTotalBranches: settings.maxTotalBranches,
    },
    security: securitySettings(settings),
    lifecycle: {
      shutdownDelayMs: settings.shutdownDelay,
      drainTimeoutMs: settings.drainTimeout,
      decisionTimeoutMs: settings.decisionTimeout,
      queueTimeoutMs: settings.queueTimeout,
      keepaliveTimeMs: settings.keepaliveTime,
      keepaliveTimeoutMs: settings.keepaliveTimeout,
      maxConnectionAgeMs: settings.maxConnectionAge,
      maxConnectionAgeGraceMs: settings.maxConnectionAgeGrace,
    },
    ...(settings.metricsPort !== undefined && { metrics: { host: settings.host, port: settings.metricsPort } }),
  };
}

/**
 * SIGINT/SIGTERM drain and exit 0 (a second one exits at once, 128 + its number); SIGHUP re-reads the TLS
 * and token files (and no longer ends the process, its default).
 */
function handleSignals(app: ComposedServer, readyFile: ReadyFile | undefined, logger: Logger): void {
  let shuttingDown = false;
  const shutDown = (signal: NodeJS.Signals): void => {
    if (shuttingDown) {
      logger.warn(`${signal} received again; exiting at once, ${app.server.openStreams} streams cut`);
      process.exit(128 + constants.signals[signal]);
    }
    shuttingDown = true;
    readyFile?.withdraw();
    const stopping = performance.now();
    logger.info(`${signal} received; shutting down (send it again to exit at once)`, { signal, openStreams: app.server.openStreams });
    app.dispose().then(
      () => {
        logger.info('stopped', { shutdownMs: Math.round(performance.now() - stopping), uptimeS: Math.round(process.uptime()) });
        process.exit(0);
      },
      (error: unknown) => {
        logger.error('shutdown failed', error);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', shutDown);
  process.on('SIGTERM', shutDown);
  process.on('SIGHUP', () => void app.security.reload('SIGHUP'));
}

/** One bare `--model DIR` is served as before (named after its folder); several, or a NAME=DIR, by name. */
async function modelsToServe(settings: ServeSettings, logger: Logger): Promise<{ modelDir: string } | { models: { name: string; dir: string }[] }> {
  checkModelNames(settings.model);
  const [first] = settings.model;
  if (first === undefined) {
    const embedded = await ensureEmbeddedModel();
    if (embedded.built) logger.info(`built the embedded model in ${embedded.folder}`);
    return { modelDir: embedded.folder };
  }
  if (settings.model.length === 1 && first.bare) return { modelDir: first.dir };
  return { models: settings.model.map(({ name, dir }) => ({ name, dir })) };
}

/** Option names whose values may be secrets (a token, a password), never written; `maxNewTokens` is not one. */
const SECRET_OPTION = /secret|password|credential|apikey|(^|auth)tokens?$|token$/i;

/** The settings in force, for the start-up line; a value whose name suggests a secret is never written. */
function effectiveConfig(settings: ServeSettings, configPath: string | undefined): Record<string, unknown> {
  const shown: Record<string, unknown> = { ...(configPath !== undefined && { configFile: configPath }) };
  for (const [key, value] of Object.entries(settings)) {
    if (value !== undefined) shown[key] = SECRET_OPTION.test(key) ? '[redacted]' : value;
  }
  return shown;
}

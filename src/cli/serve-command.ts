/**
 * `stepwise serve`: loads a model folder (by default the embedded tiny model, built on first start) and
 * serves it over gRPC until SIGINT/SIGTERM, then shuts down gracefully.
 *
 * ```sh
 * npm start -- --model .cache/models/t5-small --port 50051 --plugin ./plugins/vowel-bias.mjs --max-streams 32
 * STEPWISE_PORT=50052 npm start -- --config serve.yaml      # a flag beats the file, the file the environment
 * npm start -- --log-format json --metrics-port 9464         # JSON lines on stderr; Prometheus on :9464/metrics
 * ```
 */
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import { ensureModel } from '../builder/index.js';
import { composeServer } from '../composition-root.js';
import { routeGrpcLogs, routeProcessWarnings } from '../server/log-routing.js';
import type { Logger } from '../server/logger.js';
import { createLogger } from '../server/pino-logger.js';
import { locateProtoRoot } from '../server/proto-files.js';
import { addOptions, resolveOptions } from './option-table.js';
import { SERVE_OPTIONS, type ServeSettings } from './serve-options.js';

/** Where the embedded model is built: `.cache/models/default` in the installation's root. */
export function defaultModelFolder(): string {
  return join(dirname(locateProtoRoot()), '.cache', 'models', 'default');
}

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
  let modelDir = settings.model;
  if (modelDir === undefined) {
    modelDir = defaultModelFolder();
    if (await ensureModel({ preset: 'tiny', seed: 0, out: modelDir })) logger.info(`built the embedded model in ${modelDir}`);
  }
  const app = await composeServer({
    modelDir,
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
      maxInputTokens: settings.maxInputTokens,
    },
    ...(settings.metricsPort !== undefined && { metrics: { host: settings.host, port: settings.metricsPort } }),
  });
  const shutDown = (signal: string): void => {
    const stopping = performance.now();
    logger.info(`${signal} received; shutting down`, { signal, openStreams: app.server.openStreams });
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
  try {
    await app.server.start({ host: settings.host, port: settings.port });
  } catch (error) {
    await app.dispose();
    throw error;
  }
  process.once('SIGINT', shutDown);
  process.once('SIGTERM', shutDown);
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

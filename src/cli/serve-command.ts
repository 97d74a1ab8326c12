/**
 * `stepwise serve`: loads a model folder (by default the embedded tiny model, built on first start) and
 * serves it over gRPC until SIGINT/SIGTERM, then drains (open streams run on for up to `--drain-timeout`)
 * and exits 0; a second signal exits at once, with 128 + the signal's number. SIGHUP re-reads the TLS
 * and token files.
 *
 * ```sh
 * npm start -- --model .cache/models/t5-small --port 50051 --plugin ./plugins/vowel-bias.mjs --max-streams 32
 * STEPWISE_PORT=50052 npm start -- --config serve.yaml      # a flag beats the file, the file the environment
 * ```
 */
import { constants } from 'node:os';
import type { Command } from 'commander';
import { composeServer } from '../composition-root.js';
import { ensureEmbeddedModel } from '../embedded-model.js';
import { ConsoleLogger } from '../server/logger.js';
import { addOptions, resolveOptions } from './option-table.js';
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
    const logger = new ConsoleLogger();
    try {
      const configPath = (flags.config as string | undefined) ?? process.env.STEPWISE_CONFIG;
      const settings = await resolveOptions(SERVE_OPTIONS, flags, process.env, configPath);
      await serve(settings, logger);
    } catch (error) {
      // A start-up failure (bad option, model folder, plugin, limit, busy port) is one line, not a stack trace.
      logger.error(`cannot start: ${error instanceof Error ? error.message : String(error)}`);
      process.exitCode = 1;
    }
  });
}

async function serve(settings: ServeSettings, logger: ConsoleLogger): Promise<void> {
  const security = securitySettings(settings);
  let modelDir = settings.model;
  if (modelDir === undefined) {
    const embedded = await ensureEmbeddedModel();
    if (embedded.built) logger.info(`built the embedded model in ${embedded.folder}`);
    modelDir = embedded.folder;
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
      maxInputBytes: settings.maxInputBytes,
    },
    security,
    lifecycle: {
      drainTimeoutMs: settings.drainTimeout,
      decisionTimeoutMs: settings.decisionTimeout,
      queueTimeoutMs: settings.queueTimeout,
      keepaliveTimeMs: settings.keepaliveTime,
      keepaliveTimeoutMs: settings.keepaliveTimeout,
      maxConnectionAgeMs: settings.maxConnectionAge,
      maxConnectionAgeGraceMs: settings.maxConnectionAgeGrace,
    },
  });
  let shuttingDown = false;
  const shutDown = (signal: NodeJS.Signals): void => {
    if (shuttingDown) {
      logger.warn(`${signal} received again; exiting at once, ${app.server.openStreams} streams cut`);
      process.exit(128 + constants.signals[signal]);
    }
    shuttingDown = true;
    logger.info(`${signal} received; shutting down (send it again to exit at once)`);
    app.dispose().then(
      () => process.exit(0),
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
  process.on('SIGINT', shutDown);
  process.on('SIGTERM', shutDown);
  // SIGHUP re-reads the TLS and token files (and no longer ends the process, its default).
  process.on('SIGHUP', () => void app.security.reload('SIGHUP'));
}

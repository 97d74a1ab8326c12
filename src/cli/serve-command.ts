/**
 * `stepwise serve`: loads a model folder (by default the embedded tiny model, built on first start) and
 * serves it over gRPC until SIGINT/SIGTERM, then shuts down gracefully.
 *
 * ```sh
 * npm start -- --model .cache/models/t5-small --port 50051 --plugin ./plugins/vowel-bias.mjs --max-streams 32
 * ```
 */
import { dirname, join } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { composeServer } from '../composition-root.js';
import { ensureModel } from '../builder/build-model.js';
import { DTYPE_SUFFIXES } from '../runtime/model-files.js';
import { INTRA_OP_SPINNING, isIntraOpSpinning, type IntraOpSpinning, type ModelDtype } from '../runtime/index.js';
import { DEFAULT_THREAD_NICE } from '../runtime/worker/index.js';
import { ConsoleLogger } from '../server/logger.js';
import { locateProtoRoot } from '../server/proto-files.js';

interface ServeFlags {
  model?: string;
  host: string;
  port: number;
  plugin: string[];
  maxStreams?: number;
  maxNewTokens?: number;
  maxInputTokens?: number;
  dtype: ModelDtype;
  threads?: number;
  spinning?: IntraOpSpinning;
  runAhead: boolean;
  modelThreadNice?: number;
}

/** Where the embedded model is built: `.cache/models/default` in the installation's root. */
export function defaultModelFolder(): string {
  return join(dirname(locateProtoRoot()), '.cache', 'models', 'default');
}

function integerFlag(flag: string, min: number, max: number): (value: string) => number {
  return (value) => {
    const parsed = Number(value);
    if (!/^\d+$/.test(value.trim()) || parsed < min || parsed > max) {
      throw new InvalidArgumentError(`\`${flag}\` must be an integer in [${min}, ${max}]; given ${value}`);
    }
    return parsed;
  };
}

function dtypeFlag(value: string): ModelDtype {
  if (!Object.hasOwn(DTYPE_SUFFIXES, value)) {
    throw new InvalidArgumentError(`\`--dtype\` must be one of ${Object.keys(DTYPE_SUFFIXES).join(', ')}; given ${value}`);
  }
  return value as ModelDtype;
}

function spinningFlag(value: string): IntraOpSpinning {
  if (!isIntraOpSpinning(value)) {
    throw new InvalidArgumentError(`\`--spinning\` must be one of ${INTRA_OP_SPINNING.join(', ')}; given ${value}`);
  }
  return value;
}

function onOffFlag(flag: string): (value: string) => boolean {
  return (value) => {
    if (value !== 'on' && value !== 'off') throw new InvalidArgumentError(`\`${flag}\` must be on or off; given ${value}`);
    return value === 'on';
  };
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

export function register(program: Command): void {
  program
    .command('serve')
    .description('Serve a T5 model folder over gRPC (stepwise.v1.StepwiseService, health, reflection).')
    .option('--model <dir>', 'model folder; default: the embedded tiny model, built into .cache/models/default on first start')
    .option('--host <host>', 'address to bind', '127.0.0.1')
    .option('--port <port>', 'port to bind (0 picks a free one)', integerFlag('--port', 0, 65535), 50051)
    .option('--plugin <module>', 'processor plugin module (repeatable)', collect, [])
    .option('--max-streams <n>', 'most concurrent Decode/Generate streams', integerFlag('--max-streams', 1, 1_000_000))
    .option('--max-new-tokens <n>', 'most generated tokens per stream', integerFlag('--max-new-tokens', 1, 1_000_000))
    .option('--dtype <dtype>', `which ONNX files to load: ${Object.keys(DTYPE_SUFFIXES).join(', ')} (e.g. q8 = *_quantized.onnx)`, dtypeFlag, 'fp32')
    .option('--threads <n>', "ONNX Runtime intra-op threads (default: ONNX Runtime's choice)", integerFlag('--threads', 1, 1024))
    .option(
      `--spinning <${INTRA_OP_SPINNING.join('|')}>`,
      "when ONNX Runtime's intra-op threads spin while waiting for work: during-runs (default) between a run's operators, stopping when it returns; always: between runs too (ONNX Runtime's own default); off: never, their cores go back at once (measured in bench/README.md)",
      spinningFlag,
    )
    .option(
      '--run-ahead <on|off>',
      "the model thread runs each stream's next step on the token it expects, before the stream asks (a wrong guess costs a run, never a result)",
      onOffFlag('--run-ahead'),
      true,
    )
    .option(
      '--model-thread-nice <n>',
      `nice value added to the model's threads on Linux, so the serving thread gets a core first (default ${DEFAULT_THREAD_NICE})`,
      integerFlag('--model-thread-nice', 0, 19),
    )
    .option('--max-input-tokens <n>', 'longest encoder input, in tokens', integerFlag('--max-input-tokens', 1, 1_000_000))
    .action(async (flags: ServeFlags) => {
      const logger = new ConsoleLogger();
      try {
        await serve(flags, logger);
      } catch (error) {
        // A start-up failure (bad model folder, plugin, limit, busy port) is one line, not a stack trace.
        logger.error(`cannot start: ${error instanceof Error ? error.message : String(error)}`);
        process.exitCode = 1;
      }
    });
}

async function serve(flags: ServeFlags, logger: ConsoleLogger): Promise<void> {
  let modelDir = flags.model;
  if (modelDir === undefined) {
    modelDir = defaultModelFolder();
    if (await ensureModel({ preset: 'tiny', seed: 0, out: modelDir })) logger.info(`built the embedded model in ${modelDir}`);
  }
  const app = await composeServer({
    modelDir,
    plugins: flags.plugin,
    load: {
      dtype: flags.dtype,
      ...(flags.threads !== undefined && { intraOpNumThreads: flags.threads }),
      ...(flags.spinning !== undefined && { intraOpSpinning: flags.spinning }),
      runAhead: flags.runAhead,
      ...(flags.modelThreadNice !== undefined && { threadNice: flags.modelThreadNice }),
    },
    logger,
    limits: {
      maxConcurrentStreams: flags.maxStreams,
      maxNewTokens: flags.maxNewTokens,
      maxInputTokens: flags.maxInputTokens,
    },
  });
  const shutDown = (signal: string): void => {
    logger.info(`${signal} received; shutting down`);
    app.dispose().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error('shutdown failed', error);
        process.exit(1);
      },
    );
  };
  try {
    await app.server.start({ host: flags.host, port: flags.port });
  } catch (error) {
    await app.dispose();
    throw error;
  }
  process.once('SIGINT', shutDown);
  process.once('SIGTERM', shutDown);
}

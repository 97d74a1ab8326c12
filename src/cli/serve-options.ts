/**
 * Every option of `stepwise serve`, each with its flag, environment variable (`STEPWISE_…`), config-file
 * key and default (`option-table.ts`). Grouped by concern; a new option is one entry here and its use in
 * `serve-command.ts`.
 */
import { DEFAULT_SERVER_LIMITS } from '../server/server-limits.js';
import { DTYPE_SUFFIXES } from '../runtime/model-files.js';
import { INTRA_OP_SPINNING, type ModelDtype } from '../runtime/index.js';
import { DEFAULT_THREAD_NICE } from '../runtime/worker/index.js';
import { LOG_LEVELS } from '../server/logger.js';
import { LOG_FORMATS } from '../server/pino-logger.js';
import { option, read, type OptionValues } from './option-table.js';

const MILLION = 1_000_000;

export const SERVE_OPTIONS = {
  // The model.
  model: option({
    flag: '--model <dir>',
    env: 'STEPWISE_MODEL',
    description: 'model folder (Optimum / transformers.js layout)',
    defaultText: 'the embedded tiny model, built into .cache/models/default on first start',
    read: read.text,
  }),
  dtype: option({
    flag: '--dtype <dtype>',
    env: 'STEPWISE_DTYPE',
    description: `which ONNX files to load: ${Object.keys(DTYPE_SUFFIXES).join(', ')} (e.g. q8 = *_quantized.onnx)`,
    defaultValue: 'fp32' as ModelDtype,
    read: read.oneOf(Object.keys(DTYPE_SUFFIXES) as ModelDtype[]),
  }),
  plugin: option({
    flag: '--plugin <module>',
    env: 'STEPWISE_PLUGINS',
    description: 'processor plugin module (repeatable; comma-separated in the environment)',
    read: read.text,
    repeatable: true,
  }),
  // Where to listen.
  host: option({ flag: '--host <host>', env: 'STEPWISE_HOST', description: 'address to bind', defaultValue: '127.0.0.1', read: read.text }),
  port: option({
    flag: '--port <port>',
    env: 'STEPWISE_PORT',
    description: 'port to bind (0 picks a free one)',
    defaultValue: 50051,
    read: read.integerIn(0, 65535),
  }),
  // Limits.
  maxStreams: option({
    flag: '--max-streams <n>',
    env: 'STEPWISE_MAX_STREAMS',
    description: 'most concurrent Decode/Generate streams',
    defaultValue: DEFAULT_SERVER_LIMITS.maxConcurrentStreams,
    read: read.integerIn(1, MILLION),
  }),
  maxNewTokens: option({
    flag: '--max-new-tokens <n>',
    env: 'STEPWISE_MAX_NEW_TOKENS',
    description: 'most generated tokens per stream',
    defaultValue: DEFAULT_SERVER_LIMITS.maxNewTokens,
    read: read.integerIn(1, MILLION),
  }),
  maxInputTokens: option({
    flag: '--max-input-tokens <n>',
    env: 'STEPWISE_MAX_INPUT_TOKENS',
    description: 'longest encoder input, in tokens',
    defaultText: `${DEFAULT_SERVER_LIMITS.maxInputTokens}, or the model's maximum input length when smaller`,
    read: read.integerIn(1, MILLION),
  }),
  // ONNX Runtime and the model thread.
  threads: option({
    flag: '--threads <n>',
    env: 'STEPWISE_THREADS',
    description: 'ONNX Runtime intra-op threads',
    defaultText: "ONNX Runtime's choice (one per core)",
    read: read.integerIn(1, 1024),
  }),
  spinning: option({
    flag: `--spinning <${INTRA_OP_SPINNING.join('|')}>`,
    env: 'STEPWISE_SPINNING',
    description:
      "when ONNX Runtime's intra-op threads spin while waiting for work: during-runs between a run's operators, stopping when it returns; always: between runs too (ONNX Runtime's own default); off: never, their cores go back at once (measured in bench/README.md)",
    defaultValue: 'during-runs' as (typeof INTRA_OP_SPINNING)[number],
    read: read.oneOf(INTRA_OP_SPINNING),
  }),
  runAhead: option({
    flag: '--run-ahead <on|off>',
    env: 'STEPWISE_RUN_AHEAD',
    description: "the model thread runs each stream's next step on the token it expects, before the stream asks (a wrong guess costs a run, never a result)",
    defaultValue: true,
    read: read.onOff,
  }),
  modelThreadNice: option({
    flag: '--model-thread-nice <n>',
    env: 'STEPWISE_MODEL_THREAD_NICE',
    description: "nice value added to the model's threads on Linux, so the serving thread gets a core first",
    defaultValue: DEFAULT_THREAD_NICE,
    read: read.integerIn(0, 19),
  }),
  // Request bounds.

  // Transport security and authentication.

  // Lifecycle: drain, timeouts, keepalive, queueing.

  // Logs and metrics.
  logFormat: option({
    flag: `--log-format <${LOG_FORMATS.join('|')}>`,
    env: 'STEPWISE_LOG_FORMAT',
    description: 'how log lines are written to stderr: json (one object a line, for collectors) or pretty (for people)',
    defaultText: 'pretty when stderr is a terminal, else json',
    read: read.oneOf(LOG_FORMATS),
  }),
  logLevel: option({
    flag: '--log-level <level>',
    env: 'STEPWISE_LOG_LEVEL',
    description: `the least severe lines written: ${LOG_LEVELS.join(', ')} (info has one access line per RPC)`,
    defaultValue: 'info' as (typeof LOG_LEVELS)[number],
    read: read.oneOf(LOG_LEVELS),
  }),
  metricsPort: option({
    flag: '--metrics-port <port>',
    env: 'STEPWISE_METRICS_PORT',
    description: 'serve Prometheus /metrics, /healthz and /readyz over HTTP on this port of --host (0 picks a free one)',
    defaultText: 'off',
    read: read.integerIn(0, 65535),
  }),

};

/** The resolved options of `stepwise serve`. */
export type ServeSettings = OptionValues<typeof SERVE_OPTIONS>;

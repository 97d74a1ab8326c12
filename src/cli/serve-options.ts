/**
 * Every option of `stepwise serve`, each with its flag, environment variable (`STEPWISE_…`), config-file
 * key and default (`option-table.ts`). Grouped by concern; a new option is one entry here and its use in
 * `serve-command.ts`.
 */
import { DEFAULT_SERVER_LIMITS, INPUT_BYTES_PER_TOKEN } from '../server/server-limits.js';
import { DTYPE_SUFFIXES } from '../runtime/model-files.js';
import { INTRA_OP_SPINNING, parseDtypeChoice, type ModelDtypeChoice } from '../runtime/index.js';
import { DEFAULT_THREAD_NICE } from '../runtime/worker/index.js';
import { DEFAULT_RELOAD_INTERVAL_MS } from '../server/transport-security.js';
import { LOG_LEVELS } from '../server/logger.js';
import { LOG_FORMATS } from '../server/pino-logger.js';
import { readModelArgument } from './model-option.js';
import { option, read, type OptionValues } from './option-table.js';

const MILLION = 1_000_000;

export const SERVE_OPTIONS = {
  // The model.
  model: option({
    flag: '--model <[name=]dir>',
    env: 'STEPWISE_MODEL',
    description:
      'model folder (Optimum / transformers.js layout), named NAME for requests (Start.model, ...) or after the folder; repeatable: one model thread each, the first is the default',
    defaultText: 'the embedded tiny model, built into .cache/models/default on first start',
    read: readModelArgument,
    repeatable: true,
  }),
  dtype: option({
    flag: '--dtype <dtype>',
    env: 'STEPWISE_DTYPE',
    description: `which ONNX files to load: ${Object.keys(DTYPE_SUFFIXES).join(', ')} (e.g. q8 = *_quantized.onnx), or per file: encoder=fp32,decoder=q8`,
    defaultValue: 'fp32' as ModelDtypeChoice,
    read: (text, refuse) => {
      try {
        return parseDtypeChoice(text);
      } catch {
        return refuse(`must be one of ${Object.keys(DTYPE_SUFFIXES).join(', ')}, or per file as encoder=DTYPE,decoder=DTYPE`);
      }
    },
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
  readyFile: option({
    flag: '--ready-file <file>',
    env: 'STEPWISE_READY_FILE',
    description:
      'once serving, write {"address","host","port","pid"} as JSON to this file (whole: written aside, then renamed; removed again at shutdown); "-" prints it as one line on stdout',
    read: read.text,
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
  // Beam search.
  maxBeams: option({
    flag: '--max-beams <n>',
    env: 'STEPWISE_MAX_BEAMS',
    description: 'most num_beams of a beam search (each beam holds its own KV cache)',
    defaultValue: DEFAULT_SERVER_LIMITS.maxBeams,
    read: read.integerIn(1, 256),
  }),
  // Branches.
  maxBranchesPerStream: option({
    flag: '--max-branches-per-stream <n>',
    env: 'STEPWISE_MAX_BRANCHES_PER_STREAM',
    description: 'most live branches of one Decode stream (fork decisions), its first sequence included',
    defaultValue: DEFAULT_SERVER_LIMITS.maxBranchesPerStream,
    read: read.integerIn(1, MILLION),
  }),
  maxTotalBranches: option({
    flag: '--max-total-branches <n>',
    env: 'STEPWISE_MAX_TOTAL_BRANCHES',
    description: "most forked branches alive at once across all streams (each holds a KV cache; streams' first sequences are not counted)",
    defaultValue: DEFAULT_SERVER_LIMITS.maxTotalBranches,
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
  maxInputBytes: option({
    flag: '--max-input-bytes <n>',
    env: 'STEPWISE_MAX_INPUT_BYTES',
    description: 'longest Start or Tokenize text, in UTF-8 bytes, refused before it is tokenized',
    defaultText: `${INPUT_BYTES_PER_TOKEN} × --max-input-tokens`,
    read: read.integerIn(1, 64 * MILLION),
  }),

  // Transport security and authentication.
  tlsCert: option({
    flag: '--tls-cert <file>',
    env: 'STEPWISE_TLS_CERT',
    description: 'PEM certificate chain the server presents; with --tls-key, the server speaks TLS only',
    read: read.text,
  }),
  tlsKey: option({ flag: '--tls-key <file>', env: 'STEPWISE_TLS_KEY', description: 'PEM private key of --tls-cert', read: read.text }),
  tlsClientCa: option({
    flag: '--tls-client-ca <file>',
    env: 'STEPWISE_TLS_CLIENT_CA',
    description: 'PEM CA certificate(s): clients must present a certificate signed by one of them (mutual TLS), others are refused at the handshake',
    read: read.text,
  }),
  authTokenFile: option({
    flag: '--auth-token-file <file>',
    env: 'STEPWISE_AUTH_TOKEN_FILE',
    description: 'bearer tokens, one per line or name:token; every stepwise.v1 call (and reflection) then needs `authorization: Bearer <token>`, health stays open',
    read: read.text,
  }),
  securityReloadInterval: option({
    flag: '--security-reload-interval <seconds>',
    env: 'STEPWISE_SECURITY_RELOAD_INTERVAL',
    description: 'how often the TLS and token files are re-read for changes (SIGHUP re-reads them at once); 0: only on SIGHUP',
    defaultValue: DEFAULT_RELOAD_INTERVAL_MS,
    defaultText: `${DEFAULT_RELOAD_INTERVAL_MS / 1000}`,
    read: read.seconds(86_400),
  }),

  // Lifecycle: drain, timeouts, keepalive, queueing.
  shutdownDelay: option({
    flag: '--shutdown-delay <s>',
    env: 'STEPWISE_SHUTDOWN_DELAY',
    description:
      'on SIGTERM/SIGINT, seconds health says NOT_SERVING (and /readyz 503) while new calls are still served, so load balancers stop sending them first; then the drain begins',
    defaultValue: 0,
    read: read.seconds(3600),
  }),
  drainTimeout: option({
    flag: '--drain-timeout <s>',
    env: 'STEPWISE_DRAIN_TIMEOUT',
    description:
      'on SIGTERM/SIGINT, seconds open streams may run on to their end (new calls get UNAVAILABLE, health NOT_SERVING) before the rest end with UNAVAILABLE; 0: at once',
    defaultValue: 30_000,
    defaultText: '30',
    read: read.seconds(3600),
  }),
  decisionTimeout: option({
    flag: '--decision-timeout <s>',
    env: 'STEPWISE_DECISION_TIMEOUT',
    description:
      'seconds a LOCKSTEP stream waits for a decision (and a Decode stream for its Start) before it ends with DEADLINE_EXCEEDED, freeing its slot; 0: no limit',
    defaultValue: 60_000,
    defaultText: '60',
    read: read.seconds(86_400),
  }),
  queueTimeout: option({
    flag: '--queue-timeout <s>',
    env: 'STEPWISE_QUEUE_TIMEOUT',
    description: 'seconds a stream beyond --max-streams waits for a slot, in arrival order, before RESOURCE_EXHAUSTED; 0: refused at once',
    defaultValue: 0,
    read: read.seconds(3600),
  }),
  keepaliveTime: option({
    flag: '--keepalive-time <s>',
    env: 'STEPWISE_KEEPALIVE_TIME',
    description: 'seconds between HTTP/2 pings the server sends on each connection, so dead peers are noticed; 0: no pings',
    defaultValue: 60_000,
    defaultText: '60',
    read: read.seconds(86_400),
  }),
  keepaliveTimeout: option({
    flag: '--keepalive-timeout <s>',
    env: 'STEPWISE_KEEPALIVE_TIMEOUT',
    description: 'seconds a ping may go unanswered before the connection is closed and its streams end',
    defaultValue: 20_000,
    defaultText: '20',
    read: (text, refuse) => {
      const ms = read.seconds(3600)(text, refuse);
      return ms > 0 ? ms : refuse('must be a number of seconds in (0, 3600]');
    },
  }),
  maxConnectionAge: option({
    flag: '--max-connection-age <s>',
    env: 'STEPWISE_MAX_CONNECTION_AGE',
    description:
      'seconds (±10%) after which a connection is asked to go away (GOAWAY; clients reconnect, load balancers rebalance); its open streams run on; 0: never',
    defaultValue: 0,
    read: read.seconds(30 * 86_400),
  }),
  maxConnectionAgeGrace: option({
    flag: '--max-connection-age-grace <s>',
    env: 'STEPWISE_MAX_CONNECTION_AGE_GRACE',
    description: 'seconds streams on an aged connection may run on before it is closed; 0: until they end',
    defaultValue: 0,
    read: read.seconds(30 * 86_400),
  }),

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

#!/usr/bin/env node
/**
 * Writes an HAProxy configuration (2.0 or later) that spreads gRPC streams over N `stepwise serve` replicas.
 *
 * A `Decode` or `Generate` stream is one HTTP/2 stream, and it stays on the replica that took it; a client
 * usually opens all its streams on one connection. A balancer that balances connections (TCP, Kubernetes'
 * kube-proxy) therefore sends all of one client's streams to one replica. HAProxy in `mode http` with HTTP/2
 * on both sides balances each stream (each request) on its own. Each replica's readiness is checked on its
 * metrics port (`GET /readyz`: 200 while gRPC health is SERVING, 503 from the moment it begins shutting
 * down), so a replica told to stop leaves the rotation within one check interval; `stepwise serve
 * --shutdown-delay` (longer than the interval plus the check timeout) keeps it serving new calls until
 * then, so none is refused. Streams open on a replica that left the rotation run on to their end.
 *
 * ```sh
 * node deploy/haproxy/generate-config.mjs --bind :50051 --metrics-port 9464 \
 *   --replica stepwise-1:50051 --replica stepwise-2:50051 --replica stepwise-3:50051 > haproxy.cfg
 * haproxy -f haproxy.cfg
 * ```
 *
 * Options: `--replica HOST:PORT` (repeated; `HOST:PORT/METRICS_PORT` gives one replica its own metrics
 * port), `--bind` (default `:50051`), `--metrics-port` (default 9464), `--check-interval-ms` (default 1000),
 * `--check-timeout-ms` (default 1000), `--stats-socket PATH` (HAProxy's runtime API), `--log` (a line per
 * stream on stdout, naming the replica). `deploy/haproxy/haproxy.cfg` is this script's output for an example,
 * with the command in its header.
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

/** The defaults, each with its reason in the file written. */
export const HAPROXY_DEFAULTS = {
  bind: ':50051',
  metricsPort: 9464,
  checkIntervalMs: 1000,
  checkTimeoutMs: 1000,
  streamIdleTimeoutS: 90,
};

/**
 * @typedef {object} Replica
 * @property {string} address host:port of its gRPC port
 * @property {number} metricsPort the port of its /readyz
 */

/**
 * Reads `HOST:PORT` or `HOST:PORT/METRICS_PORT`.
 * @param {string} text
 * @param {number} metricsPort the port when the text names none
 * @returns {Replica}
 */
export function parseReplica(text, metricsPort) {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):(\d{1,5})(?:\/(\d{1,5}))?$/.exec(text);
  if (!match) throw new Error(`--replica must be HOST:PORT or HOST:PORT/METRICS_PORT; given ${JSON.stringify(text)}`);
  return { address: `${match[1]}:${match[2]}`, metricsPort: match[3] === undefined ? metricsPort : Number(match[3]) };
}

/**
 * @typedef {object} HaproxyOptions
 * @property {readonly Replica[]} replicas
 * @property {string} [bind] the address clients connect to, `HOST:PORT` or `:PORT` (every address)
 * @property {number} [checkIntervalMs] how often each replica's /readyz is read
 * @property {number} [checkTimeoutMs] how long a check may take before it counts as failed
 * @property {number} [streamIdleTimeoutS] how long a stream may stay silent before HAProxy cuts it
 * @property {string} [statsSocket] a Unix socket for HAProxy's runtime API (`show servers state`, `disable server`)
 * @property {boolean} [log] log one line per stream (with the replica that served it) to stdout
 */

/**
 * The configuration text.
 * @param {HaproxyOptions} options
 * @param {string} [command] the command line that wrote it, recorded in its header
 * @returns {string}
 */
export function haproxyConfig(options, command) {
  const { bind, checkIntervalMs, checkTimeoutMs, streamIdleTimeoutS } = { ...HAPROXY_DEFAULTS, ...definedOnly(options) };
  if (options.replicas.length === 0) throw new Error('at least one --replica is needed');
  const global = [
    ...(options.log ? ['    log stdout format raw local0 info'] : []),
    ...(options.statsSocket ? [`    stats socket ${options.statsSocket} mode 600 level admin`] : []),
    '    # One client connection may carry more streams than the default 100 (replicas x --max-streams).',
    '    tune.h2.max-concurrent-streams 1024',
    '    # A 1 MiB HTTP/2 window per stream, so a step of logits (t5-small: 128 KiB) needs no window update.',
    '    tune.h2.initial-window-size 1048576',
  ];
  const servers = options.replicas.map(
    (replica, index) => `    server replica-${index + 1} ${replica.address} proto h2 check check-proto h1 port ${replica.metricsPort}`,
  );
  return [
    '# HAProxy in front of `stepwise serve` replicas: each gRPC stream is balanced on its own.',
    '# Written by deploy/haproxy/generate-config.mjs; the README section "Running several replicas" explains it.',
    ...(command === undefined ? [] : [`# ${command}`]),
    'global',
    ...global,
    '',
    'defaults',
    '    mode http',
    ...(options.log ? ['    log global', '    option httplog'] : []),
    '    timeout connect 2s',
    `    # Longer than serve's --decision-timeout (60 s): a LOCKSTEP stream waiting for its client ends with`,
    `    # the server's DEADLINE_EXCEEDED, which names the step, before HAProxy would cut it.`,
    `    timeout client ${streamIdleTimeoutS}s`,
    `    timeout server ${streamIdleTimeoutS}s`,
    `    timeout check ${durationText(checkTimeoutMs)}`,
    '',
    'frontend stepwise',
    `    bind ${bind} proto h2`,
    '    default_backend stepwise_replicas',
    '',
    'backend stepwise_replicas',
    '    # Streams live from milliseconds to minutes: send each new one to the replica with the fewest open.',
    '    balance leastconn',
    '    # Readiness: /readyz on each replica\'s metrics port is 200 while it serves, 503 from the moment it',
    '    # begins shutting down. One failed check takes a replica out; two good ones bring it back.',
    '    # Streams go to the gRPC port over HTTP/2 (proto h2); the checks to the metrics port over HTTP/1.1',
    '    # (check-proto h1, on each server line: HAProxy 2.6 does not take it from default-server).',
    `    # A replica sent SIGTERM is out within ${durationText(checkIntervalMs + checkTimeoutMs)} (interval + check timeout): run the replicas with`,
    `    # \`stepwise serve --shutdown-delay ${recommendedShutdownDelayS({ checkIntervalMs, checkTimeoutMs })}\` or more, so they serve what arrives until then.`,
    '    option httpchk GET /readyz',
    '    http-check expect status 200',
    `    default-server inter ${durationText(checkIntervalMs)} fall 1 rise 2`,
    '    # A replica that refuses the connection (gone, restarting): try another one.',
    '    option redispatch',
    '    retries 2',
    ...servers,
    '',
  ].join('\n');
}

/**
 * The shortest `stepwise serve --shutdown-delay` that outlasts HAProxy's notice of a replica leaving, in
 * whole seconds with one to spare.
 * @param {{ checkIntervalMs: number, checkTimeoutMs: number }} checks
 */
export function recommendedShutdownDelayS({ checkIntervalMs, checkTimeoutMs }) {
  return Math.ceil((checkIntervalMs + checkTimeoutMs) / 1000) + 1;
}

/** @param {number} ms */
function durationText(ms) {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/**
 * @template {object} T
 * @param {T} object
 * @returns {Partial<T>}
 */
function definedOnly(object) {
  return /** @type {Partial<T>} */ (Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined)));
}

/** @param {string} text @param {string} flag */
function positiveInteger(text, flag) {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < 1) throw new Error(`${flag} must be a positive integer; given ${JSON.stringify(text)}`);
  return value;
}

/** @param {readonly string[]} args */
export function main(args) {
  const { values } = parseArgs({
    args: [...args],
    options: {
      replica: { type: 'string', multiple: true },
      bind: { type: 'string' },
      'metrics-port': { type: 'string' },
      'check-interval-ms': { type: 'string' },
      'check-timeout-ms': { type: 'string' },
      'stats-socket': { type: 'string' },
      log: { type: 'boolean' },
    },
  });
  const metricsPort = values['metrics-port'] === undefined ? HAPROXY_DEFAULTS.metricsPort : positiveInteger(values['metrics-port'], '--metrics-port');
  return haproxyConfig({
    replicas: (values.replica ?? []).map((text) => parseReplica(text, metricsPort)),
    bind: values.bind,
    checkIntervalMs: values['check-interval-ms'] === undefined ? undefined : positiveInteger(values['check-interval-ms'], '--check-interval-ms'),
    checkTimeoutMs: values['check-timeout-ms'] === undefined ? undefined : positiveInteger(values['check-timeout-ms'], '--check-timeout-ms'),
    statsSocket: values['stats-socket'],
    log: values.log,
  }, ['node deploy/haproxy/generate-config.mjs', ...args].join(' '));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    process.stdout.write(main(process.argv.slice(2)));
  } catch (error) {
    process.stderr.write(`generate-config: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  }
}

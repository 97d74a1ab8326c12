/**
 * Lines the process writes that our code does not: grpc-js's own (transport errors, and its traces when
 * `GRPC_TRACE` names them) and Node's process warnings (e.g. a model thread that failed a request nobody
 * waited for), routed through the server's logger so every line on stderr has one format. Both are kept
 * once per process: the command that owns the process (`stepwise serve`) routes them, not each server.
 *
 * grpc-js's verbosity follows `--log-level` (`debug`/`trace` → DEBUG, `info` → INFO, else ERROR, `silent`
 * → none) unless `GRPC_NODE_VERBOSITY` or `GRPC_VERBOSITY` is set, which grpc-js reads itself.
 */
import type { EventEmitter } from 'node:events';
import { format } from 'node:util';
import { logVerbosity, setLogger, setLogVerbosity } from '@grpc/grpc-js';
import type { Logger, LogLevel } from './logger.js';

export function routeGrpcLogs(logger: Logger, level: LogLevel, env: NodeJS.ProcessEnv = process.env): void {
  const fields = { source: 'grpc-js' };
  const text = (args: unknown[]): string => `grpc-js: ${format(...args)}`;
  setLogger({
    error: (...args: unknown[]) => logger.error(text(args), undefined, fields),
    info: (...args: unknown[]) => logger.info(text(args), fields),
    debug: (...args: unknown[]) => logger.debug(text(args), fields),
  });
  if (env.GRPC_NODE_VERBOSITY === undefined && env.GRPC_VERBOSITY === undefined) setLogVerbosity(grpcVerbosity(level));
}

function grpcVerbosity(level: LogLevel): logVerbosity {
  if (level === 'trace' || level === 'debug') return logVerbosity.DEBUG;
  if (level === 'info') return logVerbosity.INFO;
  return level === 'silent' ? logVerbosity.NONE : logVerbosity.ERROR;
}

/**
 * Node's process warnings as `warn` lines (`source: "node"`) instead of its own stderr text: Node prints
 * them through a listener of its own, which this replaces.
 */
export function routeProcessWarnings(logger: Logger, emitter: EventEmitter = process): void {
  emitter.removeAllListeners('warning');
  emitter.on('warning', (warning: Error) => logger.warn(warning.message, { source: 'node', warning: warning.name }));
}

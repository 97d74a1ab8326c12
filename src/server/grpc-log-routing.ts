/**
 * grpc-js's own log lines (transport errors, and its traces when `GRPC_TRACE` names them) go through the
 * server's logger, so every line the process writes has one format. grpc-js keeps one logger for the whole
 * process: the command that owns the process (`stepwise serve`) routes it, not each server.
 *
 * Its verbosity follows `--log-level` (`debug`/`trace` → DEBUG, `info` → INFO, else ERROR, `silent` →
 * none) unless `GRPC_NODE_VERBOSITY` or `GRPC_VERBOSITY` is set, which grpc-js reads itself.
 */
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

/**
 * The server's `Logger` written by pino, to stderr (stdout stays free for tools): one JSON object a line
 * for machines (`json`: `level` as its name, `time` in ISO 8601, the message as `msg`, the event's fields
 * as keys, a cause as `err` with its stack and `cause` chain), or one readable line for people (`pretty`,
 * via pino-pretty: fields as JSON at the end of the line, a cause's stack below it).
 *
 * ```ts
 * const logger = createLogger({ format: 'json', level: 'info' });
 * logger.info('Decode OK in 12.5 ms', { method: 'Decode', code: 'OK', durationMs: 12.5 });
 * // {"level":"info","time":"2025-01-01T12:00:00.000Z","pid":7,"hostname":"h","method":"Decode",...,"msg":"Decode OK in 12.5 ms"}
 * ```
 */
import { pino, type DestinationStream, type Logger as Pino } from 'pino';
import pretty from 'pino-pretty';
import type { LogFields, Logger, LogLevel } from './logger.js';

export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export interface PinoLoggerOptions {
  /** Default: `pretty` when stderr is a terminal, else `json`. */
  readonly format?: LogFormat;
  /** The least severe level written; default `info`. */
  readonly level?: LogLevel;
  /** Where lines go; default stderr (written synchronously, so no line is lost when the process exits). */
  readonly destination?: DestinationStream;
}

/** `pretty` on a terminal, where a person reads; `json` anywhere else (a file, a pipe, a log collector). */
export function defaultLogFormat(): LogFormat {
  return process.stderr.isTTY ? 'pretty' : 'json';
}

export class PinoLogger implements Logger {
  constructor(private readonly pino: Pino) {}

  debug(message: string, fields: LogFields = {}): void {
    this.pino.debug(fields, message);
  }

  info(message: string, fields: LogFields = {}): void {
    this.pino.info(fields, message);
  }

  warn(message: string, fields: LogFields = {}): void {
    this.pino.warn(fields, message);
  }

  error(message: string, cause?: unknown, fields: LogFields = {}): void {
    this.pino.error(cause === undefined ? fields : { ...fields, err: cause }, message);
  }
}

export function createLogger(options: PinoLoggerOptions = {}): PinoLogger {
  const format = options.format ?? defaultLogFormat();
  const destination = options.destination ?? (format === 'json' ? pino.destination({ dest: 2, sync: true }) : undefined);
  const stream =
    format === 'json'
      ? destination!
      : pretty({
          destination: destination ?? 2,
          sync: true,
          colorize: destination === undefined && process.stderr.isTTY === true,
          singleLine: true,
          ignore: 'pid,hostname',
          translateTime: 'SYS:HH:MM:ss.l',
        });
  const logger = pino(
    {
      level: options.level ?? 'info',
      formatters: { level: (label) => ({ level: label }) },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    stream,
  );
  return new PinoLogger(logger);
}

/**
 * The server's log: one line per event. A small interface rather than a logging library, so that the rest
 * of the code depends on no library and tests can collect what was logged (e.g. the cause behind an
 * INTERNAL status) instead of printing it. `pino-logger.ts` writes the lines (to stderr, JSON or pretty).
 *
 * `fields` are structured facts about the event (`{ method: 'Decode', code: 'OK', durationMs: 12.5 }`):
 * keys of a JSON line, never part of the message text, and never a secret (no token, no request text).
 */
export type LogFields = Readonly<Record<string, unknown>>;

export interface Logger {
  /** Detail for whoever debugs the server (e.g. grpc-js's own traces); off by default. */
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  /** `cause` is logged in full (stack included): it stays on the server, never on the wire. */
  error(message: string, cause?: unknown, fields?: LogFields): void;
}

/** The levels a `Logger` writes, from the most detailed; `silent` writes nothing. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** One line kept by `MemoryLogger`. */
export interface LoggedEntry {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly message: string;
  readonly fields: LogFields;
  readonly cause?: unknown;
}

/** Keeps every line in memory; for tests that assert what the server logged. */
export class MemoryLogger implements Logger {
  /** Each line as `LEVEL message`, e.g. `WARN calls still open ...`. */
  readonly lines: string[] = [];
  readonly causes: unknown[] = [];
  /** Each line with its fields. */
  readonly entries: LoggedEntry[] = [];

  debug(message: string, fields: LogFields = {}): void {
    this.keep({ level: 'debug', message, fields });
  }

  info(message: string, fields: LogFields = {}): void {
    this.keep({ level: 'info', message, fields });
  }

  warn(message: string, fields: LogFields = {}): void {
    this.keep({ level: 'warn', message, fields });
  }

  error(message: string, cause?: unknown, fields: LogFields = {}): void {
    this.keep({ level: 'error', message, fields, ...(cause !== undefined && { cause }) });
    if (cause !== undefined) this.causes.push(cause);
  }

  private keep(entry: LoggedEntry): void {
    this.entries.push(entry);
    this.lines.push(`${entry.level.toUpperCase()} ${entry.message}`);
  }
}

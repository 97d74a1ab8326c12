/**
 * The server's log: one line per event, to stderr. A small interface rather than `console` so that tests
 * can collect what was logged (e.g. the cause behind an INTERNAL status) instead of printing it.
 */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  /** `cause` is logged in full (stack included): it stays on the server, never on the wire. */
  error(message: string, cause?: unknown): void;
}

/** Writes timestamped lines to stderr; `info` lines also go to stderr so stdout stays free for tools. */
export class ConsoleLogger implements Logger {
  info(message: string): void {
    process.stderr.write(`${new Date().toISOString()} INFO  ${message}\n`);
  }

  warn(message: string): void {
    process.stderr.write(`${new Date().toISOString()} WARN  ${message}\n`);
  }

  error(message: string, cause?: unknown): void {
    const detail = cause instanceof Error ? `\n${cause.stack ?? cause.message}` : cause === undefined ? '' : `\n${String(cause)}`;
    process.stderr.write(`${new Date().toISOString()} ERROR ${message}${detail}\n`);
  }
}

/** Keeps every line in memory; for tests that assert what the server logged. */
export class MemoryLogger implements Logger {
  readonly lines: string[] = [];
  readonly causes: unknown[] = [];

  info(message: string): void {
    this.lines.push(`INFO ${message}`);
  }

  warn(message: string): void {
    this.lines.push(`WARN ${message}`);
  }

  error(message: string, cause?: unknown): void {
    this.lines.push(`ERROR ${message}`);
    if (cause !== undefined) this.causes.push(cause);
  }
}

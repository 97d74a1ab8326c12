/**
 * `stepwise serve --ready-file FILE`: how a parent process (a test fixture, a supervisor, a script) learns
 * that the server serves and on which port, without parsing log lines: once the server reports SERVING it
 * writes `{"address","host","port","pid"}` as JSON to FILE, or prints it as one line on stdout for `-`.
 *
 * ```sh
 * stepwise serve --port 0 --ready-file /tmp/stepwise.json &    # then poll for the file
 * stepwise serve --port 0 --ready-file - | head -n 1            # {"address":"127.0.0.1:40211",...}
 * ```
 *
 * The file appears whole or not at all (written under another name in the same folder, then renamed), so a
 * parent that polls for it never reads half a line. A file left by an earlier run is removed at start-up,
 * before the model loads, and the file is removed again when shutdown begins: while it exists, it names a
 * server that serves.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { rename, rm, writeFile } from 'node:fs/promises';

/** What the ready file or line says. */
export interface ReadyAnnouncement {
  /** `host:port` as a gRPC client dials it (`[::1]:50051` for an IPv6 host). */
  readonly address: string;
  readonly host: string;
  readonly port: number;
  /** The serving process, e.g. for the parent to send SIGTERM to. */
  readonly pid: number;
}

/** The ready file named by `--ready-file`: `-` means stdout. */
export class ReadyFile {
  constructor(private readonly target: string) {}

  /** Removes what an earlier run left, so that a parent waiting for the file sees only this run's. */
  async clear(): Promise<void> {
    if (this.target === '-') return;
    try {
      await rm(this.target, { force: true });
    } catch (error) {
      throw new Error(`cannot remove the earlier ready file ${this.target} (--ready-file): ${reasonOf(error)}`);
    }
  }

  /** Writes (or prints) the announcement for the bound address; a file that cannot be written is one line naming it. */
  async announce(host: string, port: number): Promise<ReadyAnnouncement> {
    const announcement = readyAnnouncement(host, port, process.pid);
    const line = `${JSON.stringify(announcement)}\n`;
    if (this.target === '-') {
      process.stdout.write(line);
      return announcement;
    }
    const temporary = `${this.target}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await writeFile(temporary, line, { mode: 0o644 });
      await rename(temporary, this.target);
    } catch (error) {
      await rm(temporary, { force: true });
      throw new Error(`cannot write the ready file ${this.target} (--ready-file): ${reasonOf(error)}`);
    }
    return announcement;
  }

  /** Removes the file (shutdown has begun); synchronous, so it holds even when the process exits next. */
  withdraw(): void {
    if (this.target !== '-') rmSync(this.target, { force: true });
  }
}

/** The announcement for a server bound to `host:port` in process `pid`. */
export function readyAnnouncement(host: string, port: number, pid: number): ReadyAnnouncement {
  const address = host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
  return { address, host, port, pid };
}

/** A file error's code (`ENOENT`, `EISDIR`...), else its message. */
function reasonOf(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? (error instanceof Error ? error.message : String(error));
}

/**
 * How a server is secured: TLS (optionally mutual), bearer tokens, and the reload of both from their
 * files while the server runs. The server asks it for the credentials to bind with and the interceptors
 * to install; `serve` calls `reload` on SIGHUP, and the files are also re-read every `reloadIntervalMs`.
 *
 * Usage (what the composition root and the server do):
 * ```ts
 * const security = await TransportSecurity.load({ tls: { certFile, keyFile }, tokenFile }, logger);
 * const server = new grpc.Server({ interceptors: security.interceptors });
 * server.bindAsync(address, security.credentials(), ...);
 * security.start(host);                  // logs what is in force, warns of an exposed address, re-reads files from now on
 * await security.reload('SIGHUP');       // new connections get the new certificate, new calls the new tokens
 * security.close();                      // stops re-reading
 * ```
 *
 * A reload that finds a file broken (unreadable, a key that is not the certificate's, no token) logs why
 * and keeps what was in force: a bad edit never takes a running server down.
 */
import { readFile } from 'node:fs/promises';
import { experimental, ServerCredentials, type ServerInterceptor } from '@grpc/grpc-js';
import { bearerAuthInterceptor } from './bearer-auth.js';
import { TokenTable } from './bearer-tokens.js';
import { CertificateFiles, type TlsFiles } from './certificate-files.js';
import type { Logger } from './logger.js';

export interface TransportSecuritySettings {
  /** TLS files; unset: plaintext. */
  readonly tls?: TlsFiles;
  /** The bearer-token file (`bearer-tokens.ts`); unset: no token needed. */
  readonly tokenFile?: string;
  /** How often the files are re-read to pick up changes; 0: only on `reload`. Default 60 s. */
  readonly reloadIntervalMs?: number;
}

export const DEFAULT_RELOAD_INTERVAL_MS = 60_000;

/** What is secured, for `exposureWarnings`. */
export interface Protection {
  readonly tls: boolean;
  readonly clientCertificates: boolean;
  readonly tokens: boolean;
}

export class TransportSecurity {
  /** The server interceptors to install (bearer-token authentication and the caller's name). */
  readonly interceptors: ServerInterceptor[];
  private timer: NodeJS.Timeout | undefined;
  private reloading: Promise<void> | undefined;
  /** The last reload failure logged, so that a file that stays broken is reported once, not every interval. */
  private lastFailure: string | undefined;

  private constructor(
    private readonly settings: TransportSecuritySettings,
    private readonly logger: Logger,
    private readonly certificates: CertificateFiles | undefined,
    private tokens: { table: TokenTable; text: string } | undefined,
  ) {
    this.interceptors = [bearerAuthInterceptor(() => this.tokens?.table)];
  }

  /** Reads and checks the files; throws (naming the file) when one cannot be used. */
  static async load(settings: TransportSecuritySettings, logger: Logger): Promise<TransportSecurity> {
    const certificates = settings.tls === undefined ? undefined : await CertificateFiles.load(settings.tls);
    const tokens = settings.tokenFile === undefined ? undefined : await readTokens(settings.tokenFile, logger);
    return new TransportSecurity(settings, logger, certificates, tokens);
  }

  /** What this server enforces. */
  get protection(): Protection {
    return { tls: this.certificates !== undefined, clientCertificates: this.certificates?.requiresClientCertificates ?? false, tokens: this.tokens !== undefined };
  }

  /**
   * The credentials to bind with. With TLS, grpc-js's certificate-provider credentials: they follow
   * `CertificateFiles`, so a reload reaches the listening server.
   */
  credentials(): ServerCredentials {
    if (this.certificates === undefined) return ServerCredentials.createInsecure();
    // grpc-js 1.14 uses its first argument as the identity (certificate and key) provider and its second as
    // the CA provider, whatever its typings call them; a null CA provider means no client certificates.
    const clientCa = this.certificates.requiresClientCertificates ? this.certificates : null;
    return experimental.createCertificateProviderServerCredentials(this.certificates, clientCa, clientCa !== null);
  }

  /**
   * Called as the server starts listening on `host`: starts re-reading the files every interval, logs
   * what is in force, then a warning for each risk of serving `host` this way.
   */
  start(host: string): void {
    const interval = this.settings.reloadIntervalMs ?? DEFAULT_RELOAD_INTERVAL_MS;
    if (this.timer === undefined && interval > 0 && (this.certificates !== undefined || this.tokens !== undefined)) {
      this.timer = setInterval(() => void this.reload(), interval);
      this.timer.unref();
    }
    this.logger.info(`transport: ${this.describe()}`);
    this.warnIfExpired();
    for (const warning of exposureWarnings(host, this.protection)) this.logger.warn(warning);
  }

  /**
   * Re-reads the TLS and token files (`trigger`, e.g. `SIGHUP`, is named in the log; without one, a
   * periodic check that logs only changes and failures). A periodic check joins a reload in flight; a
   * named trigger runs after it and reads the files afresh, so a file changed just before a SIGHUP is
   * always read by that SIGHUP's reload.
   */
  reload(trigger?: string): Promise<void> {
    if (this.reloading !== undefined && trigger === undefined) return this.reloading;
    const run: Promise<void> = (this.reloading ?? Promise.resolve())
      .then(() => this.reloadNow(trigger))
      .finally(() => {
        if (this.reloading === run) this.reloading = undefined;
      });
    this.reloading = run;
    return run;
  }

  /** Stops the periodic re-reading. */
  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private describe(): string {
    const certificates = this.certificates;
    const tls =
      certificates === undefined
        ? 'plaintext (no TLS)'
        : `TLS with certificate ${certificates.describe()}` +
          (certificates.requiresClientCertificates ? `; client certificates required, signed by ${certificates.files.clientCaFile}` : '');
    const tokens =
      this.tokens === undefined
        ? 'no bearer tokens'
        : `bearer tokens required (${this.tokens.table.size} from ${this.settings.tokenFile}: ${this.tokens.table.callers.join(', ')}); health stays open`;
    const interval = this.settings.reloadIntervalMs ?? DEFAULT_RELOAD_INTERVAL_MS;
    const files = certificates !== undefined || this.tokens !== undefined;
    const reload = !files ? '' : this.timer === undefined ? '; files re-read on SIGHUP' : `; files re-read on SIGHUP and every ${interval / 1000} s`;
    return `${tls}; ${tokens}${reload}`;
  }

  private async reloadNow(trigger: string | undefined): Promise<void> {
    const changes: string[] = [];
    const failures: string[] = [];
    if (this.certificates !== undefined) {
      await this.certificates.reload().then(
        (changed) => changed && changes.push(`TLS certificate now ${this.certificates!.describe()}`),
        (error: Error) => failures.push(`${error.message}; still serving the previous certificate`),
      );
    }
    if (this.settings.tokenFile !== undefined) {
      await this.reloadTokens(this.settings.tokenFile).then(
        (changed) => changed && changes.push(`bearer tokens now ${this.tokens!.table.size} (${this.tokens!.table.callers.join(', ')})`),
        (error: Error) => failures.push(`${error.message}; the previous tokens stay in force`),
      );
    }
    this.report(trigger, changes, failures);
  }

  private async reloadTokens(path: string): Promise<boolean> {
    const text = await readTokenText(path);
    if (text === this.tokens?.text) return false;
    this.tokens = await readTokens(path, this.logger, text);
    return true;
  }

  private report(trigger: string | undefined, changes: readonly string[], failures: readonly string[]): void {
    const prefix = trigger === undefined ? 'reload' : `${trigger}: reload`;
    for (const change of changes) this.logger.info(`${prefix}: ${change}`);
    if (changes.length > 0) this.warnIfExpired();
    const failure = failures.join('; ');
    if (failure !== '' && (trigger !== undefined || failure !== this.lastFailure)) this.logger.warn(`${prefix} failed: ${failure}`);
    this.lastFailure = failure === '' ? undefined : failure;
    if (trigger !== undefined && changes.length === 0 && failures.length === 0) {
      this.logger.info(`${prefix}: ${this.certificates ?? this.tokens ? 'the TLS and token files are unchanged' : 'no TLS or token file to reload'}`);
    }
  }

  private warnIfExpired(): void {
    const expiry = this.certificates?.expiresAt();
    if (expiry !== undefined && expiry.getTime() < Date.now()) {
      this.logger.warn(`the TLS certificate expired at ${expiry.toISOString()}: clients will refuse the connection; replace ${this.certificates!.files.certFile} and send SIGHUP`);
    }
  }
}

/**
 * A warning for each way serving `host` with `protection` exposes the server; none on a loopback address,
 * which only this machine reaches.
 */
export function exposureWarnings(host: string, protection: Protection): string[] {
  if (isLoopback(host)) return [];
  const where = `listening on ${host}, which other machines can reach,`;
  const authenticated = protection.tokens || protection.clientCertificates;
  if (!protection.tls && !authenticated) {
    return [
      `${where} without TLS or tokens: anyone who reaches the port can run the model, and every request and response (text, logits) crosses the network in plaintext; ` +
        'set --tls-cert/--tls-key and --auth-token-file (README: Securing the server)',
    ];
  }
  if (!protection.tls) {
    return [`${where} without TLS: bearer tokens and every request and response cross the network in plaintext, where anyone on the path can read them and reuse a token; set --tls-cert/--tls-key`];
  }
  if (!authenticated) {
    return [`${where} with TLS but no tokens or client certificates: anyone who reaches the port can run the model; set --auth-token-file or --tls-client-ca`];
  }
  return [];
}

/** Whether `host` is a loopback address or name (`127.0.0.0/8`, `::1`, `localhost`). */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return bare === 'localhost' || bare === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare) || /^::ffff:127\./.test(bare);
}

async function readTokenText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new Error(`token file ${path} cannot be read: ${(error as Error).message}`);
  }
}

async function readTokens(path: string, logger: Logger, text?: string): Promise<{ table: TokenTable; text: string }> {
  const read = text ?? (await readTokenText(path));
  const { table, warnings } = TokenTable.parse(read, path);
  for (const warning of warnings) logger.warn(warning);
  return { table, text: read };
}

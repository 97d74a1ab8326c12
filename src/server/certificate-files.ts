/**
 * The server's TLS files (certificate chain, private key, and for mutual TLS the CA that signs client
 * certificates) as a grpc-js `CertificateProvider`: grpc-js's certificate-provider credentials
 * (`experimental.createCertificateProviderServerCredentials`) listen to it and swap the listening
 * server's secure context (`setSecureContext`) whenever it publishes, so a reload takes effect for every
 * new connection without a restart; connections already open keep the certificate they shook hands with.
 *
 * Why not grpc-js's own `FileWatcherCertificateProvider`: it re-reads on a timer only (no way to reload
 * at once on SIGHUP), and it publishes whatever it read. A key and certificate caught halfway through
 * being replaced, or a broken file, make grpc-js drop every new connection until the next good read. Here
 * the files are checked together before anything is published (the key must match the certificate, the
 * CA file must hold a certificate): a bad set is refused with a message naming the file, and the server
 * keeps serving the last good one.
 */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import type { experimental } from '@grpc/grpc-js';

type CaListener = experimental.CaCertificateUpdateListener;
type IdentityListener = experimental.IdentityCertificateUpdateListener;

/** Where the server's TLS files are. */
export interface TlsFiles {
  /** PEM certificate chain the server presents (its own certificate first). */
  readonly certFile: string;
  /** PEM private key of that certificate. */
  readonly keyFile: string;
  /** PEM CA certificate(s): when set, clients must present a certificate one of them signed (mutual TLS). */
  readonly clientCaFile?: string;
}

/** TLS files that cannot be used; the message names the file and what is wrong with it. */
export class TlsFilesError extends Error {
  override readonly name = 'TlsFilesError';
}

interface LoadedFiles {
  readonly certificate: Buffer;
  readonly privateKey: Buffer;
  readonly caCertificate: Buffer | undefined;
}

export class CertificateFiles implements experimental.CertificateProvider {
  private readonly caListeners = new Set<CaListener>();
  private readonly identityListeners = new Set<IdentityListener>();

  private constructor(
    readonly files: TlsFiles,
    private current: LoadedFiles,
  ) {}

  /** Reads and checks the files; throws `TlsFilesError` when they cannot be used. */
  static async load(files: TlsFiles): Promise<CertificateFiles> {
    return new CertificateFiles(files, await readChecked(files));
  }

  /** Whether clients must present a certificate signed by the client CA. */
  get requiresClientCertificates(): boolean {
    return this.files.clientCaFile !== undefined;
  }

  /** The certificate served now: subject, names and expiry, for the log. */
  describe(): string {
    const leaf = new X509Certificate(this.current.certificate);
    const names = leaf.subjectAltName === undefined ? '' : ` (${leaf.subjectAltName})`;
    return `${leaf.subject.replace(/\n/g, ', ')}${names}, valid until ${this.expiresAt().toISOString()}`;
  }

  /** When the certificate served now expires. */
  expiresAt(): Date {
    return new Date(new X509Certificate(this.current.certificate).validTo);
  }

  /**
   * Reads the files again. Unchanged: nothing happens (`false`). Changed and usable: the new set is
   * published to every listener (`true`). Unusable: throws `TlsFilesError` and the old set stays.
   */
  async reload(): Promise<boolean> {
    const next = await readChecked(this.files);
    if (sameFiles(next, this.current)) return false;
    this.current = next;
    const identity = { certificate: next.certificate, privateKey: next.privateKey };
    for (const listener of this.identityListeners) listener(identity);
    if (next.caCertificate !== undefined) for (const listener of this.caListeners) listener({ caCertificate: next.caCertificate });
    return true;
  }

  addCaCertificateListener(listener: CaListener): void {
    this.caListeners.add(listener);
    // As grpc-js's own providers do: a new listener hears the current value, after its caller returned
    // (read then, so that a reload in between is not undone by an older value).
    process.nextTick(() => {
      const ca = this.current.caCertificate;
      if (this.caListeners.has(listener)) listener(ca === undefined ? null : { caCertificate: ca });
    });
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.caListeners.delete(listener);
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.add(listener);
    process.nextTick(() => {
      if (this.identityListeners.has(listener)) listener({ certificate: this.current.certificate, privateKey: this.current.privateKey });
    });
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.delete(listener);
  }
}

async function readChecked(files: TlsFiles): Promise<LoadedFiles> {
  const [certificate, privateKey, caCertificate] = await Promise.all([
    readPem(files.certFile, 'certificate'),
    readPem(files.keyFile, 'private key'),
    files.clientCaFile === undefined ? undefined : readPem(files.clientCaFile, 'client CA'),
  ]);
  parseCertificate(certificate, files.certFile, 'certificate');
  if (caCertificate !== undefined) parseCertificate(caCertificate, files.clientCaFile!, 'client CA');
  try {
    // What the server will do with them: OpenSSL refuses a key that is not the certificate's.
    createSecureContext({ cert: certificate, key: privateKey, ca: caCertificate });
  } catch (error) {
    throw new TlsFilesError(`TLS key ${files.keyFile} and certificate ${files.certFile} cannot be used together: ${(error as Error).message}`);
  }
  return { certificate, privateKey, caCertificate };
}

async function readPem(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    throw new TlsFilesError(`TLS ${what} file ${path} cannot be read: ${(error as Error).message}`);
  }
}

/** Checks that `pem` starts with a certificate (OpenSSL would silently ignore a CA file without one). */
function parseCertificate(pem: Buffer, path: string, what: string): void {
  try {
    new X509Certificate(pem);
  } catch (error) {
    throw new TlsFilesError(`TLS ${what} file ${path} holds no PEM certificate: ${(error as Error).message}`);
  }
}

function sameFiles(a: LoadedFiles, b: LoadedFiles): boolean {
  const sameCa = a.caCertificate === undefined ? b.caCertificate === undefined : b.caCertificate?.equals(a.caCertificate) === true;
  return a.certificate.equals(b.certificate) && a.privateKey.equals(b.privateKey) && sameCa;
}

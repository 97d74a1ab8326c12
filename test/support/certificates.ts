/**
 * Test certificates made with `openssl` (as the README's "Securing the server" does), in a fresh folder:
 * a CA, server certificates for 127.0.0.1 and localhost signed by it, a client certificate it signed, and
 * a second CA with a client certificate of its own (which a mutual-TLS server must refuse). EC P-256 keys:
 * quick to make.
 *
 * Usage:
 * ```ts
 * const pki = makeTestPki();
 * const server = pki.serverCertificate('server');          // { cert, key } paths
 * const client = pki.clientCertificate('alice');           // signed by pki.caFile
 * const stranger = pki.clientCertificate('mallory', 'other'); // signed by pki.otherCaFile
 * pki.remove();
 * ```
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface CertificateFiles {
  readonly cert: string;
  readonly key: string;
}

export interface TestPki {
  readonly folder: string;
  /** The CA that signs the server's certificates and the trusted client certificates. */
  readonly caFile: string;
  /** Another CA, which nothing in the server trusts. */
  readonly otherCaFile: string;
  /** A new server certificate for IP 127.0.0.1 and DNS localhost (`CN=name`), signed by `ca`. */
  serverCertificate(name: string, ca?: 'main' | 'other'): CertificateFiles;
  /** A new client certificate (`CN=name`, clientAuth), signed by `ca`. */
  clientCertificate(name: string, ca?: 'main' | 'other'): CertificateFiles;
  remove(): void;
}

const KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function openssl(args: readonly string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function makeCa(folder: string, name: string): void {
  openssl(
    ['req', '-x509', ...KEY, '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=Stepwise test ${name}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
    folder,
  );
}

export function makeTestPki(): TestPki {
  const folder = mkdtempSync(join(tmpdir(), 'stepwise-pki-'));
  makeCa(folder, 'ca');
  makeCa(folder, 'other-ca');
  const issue = (name: string, ca: 'main' | 'other', extensions: string): CertificateFiles => {
    const caName = ca === 'main' ? 'ca' : 'other-ca';
    writeFileSync(join(folder, `${name}.ext`), extensions);
    openssl(['req', ...KEY, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`], folder);
    openssl(
      ['x509', '-req', '-in', `${name}.csr`, '-CA', `${caName}.pem`, '-CAkey', `${caName}.key`, '-CAcreateserial',
        '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`],
      folder,
    );
    return { cert: join(folder, `${name}.pem`), key: join(folder, `${name}.key`) };
  };
  return {
    folder,
    caFile: join(folder, 'ca.pem'),
    otherCaFile: join(folder, 'other-ca.pem'),
    serverCertificate: (name, ca = 'main') =>
      issue(name, ca, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n'),
    clientCertificate: (name, ca = 'main') => issue(name, ca, 'extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n'),
    remove: () => rmSync(folder, { recursive: true, force: true }),
  };
}

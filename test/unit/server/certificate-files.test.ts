/** The TLS files as a certificate provider: what it refuses, and what a reload publishes (or does not). */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CertificateFiles, TlsFilesError } from '../../../src/server/certificate-files.js';
import { makeTestPki, type TestPki } from '../../support/certificates.js';

let pki: TestPki;
const folder = mkdtempSync(join(tmpdir(), 'stepwise-certificate-files-'));
beforeAll(() => {
  pki = makeTestPki();
});
afterAll(() => {
  pki?.remove();
  rmSync(folder, { recursive: true, force: true });
});

async function refusal(load: Promise<unknown>): Promise<string> {
  const error = await load.then(() => undefined, (failure: unknown) => failure);
  expect(error).toBeInstanceOf(TlsFilesError);
  return (error as Error).message;
}

describe('TLS files', () => {
  it('refuses a missing file, a CA file that holds no certificate, and a key of another certificate, naming the files', async () => {
    const served = pki.serverCertificate('files-one');
    const other = pki.serverCertificate('files-two');
    expect(await refusal(CertificateFiles.load({ certFile: join(folder, 'absent.pem'), keyFile: served.key }))).toMatch(
      new RegExp(`^TLS certificate file ${join(folder, 'absent.pem')} cannot be read: ENOENT`),
    );
    const notCa = join(folder, 'not-a-ca.pem');
    writeFileSync(notCa, 'hello\n');
    expect(await refusal(CertificateFiles.load({ certFile: served.cert, keyFile: served.key, clientCaFile: notCa }))).toMatch(
      new RegExp(`^TLS client CA file ${notCa} holds no PEM certificate`),
    );
    expect(await refusal(CertificateFiles.load({ certFile: served.cert, keyFile: other.key }))).toMatch(/cannot be used together: .*key values mismatch/);
  });

  it('a new listener hears the current pair; a reload publishes only a changed, usable pair', async () => {
    const first = pki.serverCertificate('files-first');
    const second = pki.serverCertificate('files-second');
    const cert = join(folder, 'server.pem');
    const key = join(folder, 'server.key');
    copyFileSync(first.cert, cert);
    copyFileSync(first.key, key);
    const files = await CertificateFiles.load({ certFile: cert, keyFile: key, clientCaFile: pki.caFile });
    const heard: string[] = [];
    const cas: (Buffer | undefined)[] = [];
    files.addIdentityCertificateListener((update) => heard.push(update!.certificate.toString()));
    files.addCaCertificateListener((update) => cas.push(update?.caCertificate));
    expect(heard).toEqual([]); // not while the caller is still adding listeners
    await new Promise((resolve) => process.nextTick(resolve));
    expect(heard).toEqual([readFileSync(first.cert, 'utf8')]);
    expect(cas).toEqual([readFileSync(pki.caFile)]);

    expect(await files.reload()).toBe(false);
    copyFileSync(second.key, key); // half replaced: the key is new, the certificate not yet
    await expect(files.reload()).rejects.toThrow(/key values mismatch/);
    expect(heard).toHaveLength(1);
    expect(files.describe()).toMatch(/^CN=files-first /);
    copyFileSync(second.cert, cert);
    expect(await files.reload()).toBe(true);
    expect(heard).toEqual([readFileSync(first.cert, 'utf8'), readFileSync(second.cert, 'utf8')]);
    expect(files.describe()).toMatch(/^CN=files-second \(IP Address:127\.0\.0\.1, DNS:localhost\), valid until \d{4}-/);
  });
});

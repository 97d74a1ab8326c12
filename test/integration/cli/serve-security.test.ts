/**
 * `stepwise serve`'s security flags as an operator uses them (a child process): the warning for an address
 * other machines reach, refusals of flags that do not fit together or files that cannot be used, and
 * SIGHUP re-reading the certificate and token files of a running server.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestPki, type TestPki } from '../../support/certificates.js';

interface Running {
  readonly child: ChildProcessWithoutNullStreams;
  /** Everything it wrote so far (stdout and stderr), each JSON log line as `LEVEL  message`. */
  log(): string;
  /** The bound port, once it serves; undefined if it exited first. */
  readonly port: number | undefined;
}

/** Starts `stepwise serve --port 0 ...args` and waits until it serves or exits. */
async function startServe(args: readonly string[]): Promise<Running> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'serve', '--port', '0', '--log-format', 'json', ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let log = '';
  const port = await new Promise<number | undefined>((resolve) => {
    const onOutput = (chunk: Buffer): void => {
      log += chunk.toString();
      const served = /serving model .* on \S+:(\d+)/.exec(log);
      if (served !== null) resolve(Number(served[1]));
    };
    child.stdout.on('data', onOutput);
    child.stderr.on('data', onOutput);
    child.once('exit', () => resolve(undefined));
  });
  return { child, log: () => readable(log), port };
}

/** JSON log lines as `LEVEL  message` (the level padded to five), other text as it is. */
function readable(text: string): string {
  return text
    .split('\n')
    .map((line) => {
      try {
        const entry = JSON.parse(line) as { level?: string; msg?: string };
        return entry.level === undefined ? line : `${entry.level.toUpperCase().padEnd(5)} ${entry.msg ?? ''}`;
      } catch {
        return line;
      }
    })
    .join('\n');
}

async function stopServe(running: Running): Promise<void> {
  if (running.child.exitCode !== null) return;
  running.child.kill('SIGTERM');
  await once(running.child, 'exit');
}

async function until(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** The SHA-256 fingerprint of the certificate a new TLS connection to `port` is shown. */
function servedFingerprint(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', ca: readFileSync(ca), ALPNProtocols: ['h2'] }, () => {
      resolve(socket.getPeerCertificate().fingerprint256);
      socket.end();
    });
    socket.on('error', reject);
  });
}

let pki: TestPki;
const folder = mkdtempSync(join(tmpdir(), 'stepwise-serve-security-'));
beforeAll(() => {
  pki = makeTestPki();
});
afterAll(() => {
  pki?.remove();
  rmSync(folder, { recursive: true, force: true });
});

describe('stepwise serve, secured', () => {
  it('warns at start-up when it listens on 0.0.0.0 without TLS or tokens, naming the risk', async () => {
    const running = await startServe(['--host', '0.0.0.0']);
    await stopServe(running);
    expect(running.port, running.log()).toBeDefined();
    expect(running.log()).toMatch(
      /WARN {2}listening on 0\.0\.0\.0, which other machines can reach, without TLS or tokens: anyone who reaches the port can run the model, and every request and response \(text, logits\) crosses the network in plaintext/,
    );
  });

  it('does not warn on 127.0.0.1, and says the transport is plaintext', async () => {
    const running = await startServe([]);
    await stopServe(running);
    expect(running.log()).toContain('INFO  transport: plaintext (no TLS); no bearer tokens');
    expect(running.log()).not.toContain('WARN');
  });

  it('refuses a certificate without its key, and a client CA without TLS, naming the flags', async () => {
    const served = pki.serverCertificate('cli-lonely');
    const withoutKey = await startServe(['--tls-cert', served.cert]);
    expect(withoutKey.port).toBeUndefined();
    expect(withoutKey.child.exitCode).not.toBe(0);
    expect(withoutKey.log()).toContain('cannot start: `--tls-cert` needs `--tls-key` (the private key of that certificate)');
    const caAlone = await startServe(['--tls-client-ca', pki.caFile]);
    expect(caAlone.log()).toContain('cannot start: `--tls-client-ca` needs `--tls-cert` and `--tls-key`');
  });

  it('refuses a key that is not the certificate\'s, and a token file without a token, naming the files', async () => {
    const one = pki.serverCertificate('cli-one');
    const two = pki.serverCertificate('cli-two');
    const mismatched = await startServe(['--tls-cert', one.cert, '--tls-key', two.key]);
    expect(mismatched.port).toBeUndefined();
    expect(mismatched.log()).toContain(`cannot start: TLS key ${two.key} and certificate ${one.cert} cannot be used together:`);
    const empty = join(folder, 'empty-tokens.txt');
    writeFileSync(empty, '# no tokens yet\n');
    const noTokens = await startServe(['--auth-token-file', empty]);
    expect(noTokens.log()).toContain(`cannot start: ${empty} holds no token`);
  });

  it('re-reads the certificate and token files on SIGHUP and keeps serving: a new connection sees the new certificate', async () => {
    const first = pki.serverCertificate('cli-first');
    const cert = join(folder, 'server.pem');
    const key = join(folder, 'server.key');
    const tokens = join(folder, 'tokens.txt');
    copyFileSync(first.cert, cert);
    copyFileSync(first.key, key);
    writeFileSync(tokens, 'ops:0123456789abcdef0123456789abcdef\n');
    const running = await startServe(['--tls-cert', cert, '--tls-key', key, '--auth-token-file', tokens, '--security-reload-interval', '0']);
    try {
      expect(running.port, running.log()).toBeDefined();
      expect(running.log()).toContain('bearer tokens required (1 from');
      expect(running.log()).toContain('; files re-read on SIGHUP');
      expect(await servedFingerprint(running.port!, pki.caFile)).toBe(new X509Certificate(readFileSync(first.cert)).fingerprint256);
      const second = pki.serverCertificate('cli-second');
      copyFileSync(second.cert, cert);
      copyFileSync(second.key, key);
      writeFileSync(tokens, 'ops:0123456789abcdef0123456789abcdef\nci:fedcba9876543210fedcba9876543210\n');
      running.child.kill('SIGHUP');
      await until(() => running.log().includes('SIGHUP: reload: bearer tokens now 2 (ops, ci)'), 'the reload logged');
      expect(running.log()).toMatch(/INFO {2}SIGHUP: reload: TLS certificate now CN=cli-second/);
      expect(await servedFingerprint(running.port!, pki.caFile)).toBe(new X509Certificate(readFileSync(second.cert)).fingerprint256);
      expect(running.child.exitCode).toBeNull();
      expect(running.log()).not.toContain('0123456789abcdef0123456789abcdef');
    } finally {
      await stopServe(running);
    }
  });
});

/**
 * The clients against a secured server (mutual TLS and a bearer token), with the certificates made by the
 * README's own openssl commands ("Securing the server"): the TypeScript library, the `stepwise decode`
 * command (flags and `STEPWISE_SERVER` / `STEPWISE_TOKEN`), the Python client's checks
 * (`clients/python/tests/secure_server_checks.py`, which also runs the README's grpcurl calls through
 * reflection) and a Python example with its flags.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StepwiseCallError, StepwiseClient, type ClientTls } from '../../../clients/ts/index.js';
import { tinyModels } from '../../fixtures/models.js';
import { makeTestPki, type CertificateFiles, type TestPki } from '../../support/certificates.js';
import { startTestServer, type TestServer } from '../../support/test-server.js';
import { requirePythonPackages, runPython } from './system-python.js';

const run = promisify(execFile);
const TEXT = 'translate English to German: The house is wonderful.';
const TOKEN = 'b5e1f0c3a2d94e8f7a6b5c4d3e2f1a0b';
const folder = mkdtempSync(join(tmpdir(), 'stepwise-secure-clients-'));
const file = (name: string): string => join(folder, name);

let server: TestServer;
let pki: TestPki;
let stranger: CertificateFiles;
let tls: ClientTls;

/** The README's openssl lines (the bash block that makes ca.pem, server.pem and client.pem), run in `folder`. */
async function runReadmeOpenssl(): Promise<void> {
  const readme = readFileSync('README.md', 'utf8');
  const section = readme.slice(readme.indexOf('## Securing the server'));
  const block = /```bash\n([\s\S]*?)```/.exec(section)?.[1];
  if (block === undefined) throw new Error('README: no bash block in "Securing the server"');
  const script = block.split('\n').filter((line) => !line.startsWith('npm ')).join('\n');
  expect(script).toContain('openssl req -x509');
  await run('bash', ['-e', '-c', script], { cwd: folder });
}

beforeAll(async () => {
  await runReadmeOpenssl();
  pki = makeTestPki();
  stranger = pki.clientCertificate('mallory', 'other');
  writeFileSync(file('tokens.txt'), `alice:${TOKEN}\n`);
  server = await startTestServer({
    modelDir: tinyModels.reluTied,
    security: { tls: { certFile: file('server.pem'), keyFile: file('server.key'), clientCaFile: file('ca.pem') }, tokenFile: file('tokens.txt') },
  });
  tls = { caFile: file('ca.pem'), certFile: file('client.pem'), keyFile: file('client.key') };
});
afterAll(async () => {
  await server?.stop();
  pki?.remove();
  rmSync(folder, { recursive: true, force: true });
});

/** The status of `GetModelInfo` through `client` (closed afterwards). */
async function modelInfoCode(client: StepwiseClient): Promise<status> {
  try {
    await client.getModelInfo({ deadline: Date.now() + 30_000 });
    return status.OK;
  } catch (error) {
    if (error instanceof StepwiseCallError) return error.code;
    throw error;
  } finally {
    client.close();
  }
}

describe('TypeScript client, secured server', () => {
  it('with the CA, its certificate and the token, decodes, generates and calls the unary RPCs', async () => {
    const client = new StepwiseClient(server.address, { tls, token: TOKEN });
    const steps = [];
    for await (const step of client.decode({ text: TEXT, maxNewTokens: 3 })) steps.push(step);
    let generated = 0;
    for await (const event of client.generate({ text: TEXT, maxNewTokens: 3 })) if (event.kind === 'token') generated += 1;
    const info = await client.getModelInfo();
    client.close();
    expect(steps.map((step) => step.logits!.length)).toEqual([info.vocabSize, info.vocabSize, info.vocabSize]);
    expect(generated).toBe(3);
  });

  it('takes the address and the token from STEPWISE_SERVER and STEPWISE_TOKEN; `token: ""` sends none', async () => {
    const saved = { server: process.env.STEPWISE_SERVER, token: process.env.STEPWISE_TOKEN };
    process.env.STEPWISE_SERVER = server.address;
    process.env.STEPWISE_TOKEN = TOKEN;
    try {
      expect(await modelInfoCode(new StepwiseClient(undefined, { tls }))).toBe(status.OK);
      expect(await modelInfoCode(new StepwiseClient(undefined, { tls, token: '' }))).toBe(status.UNAUTHENTICATED);
    } finally {
      for (const [name, value] of [['STEPWISE_SERVER', saved.server], ['STEPWISE_TOKEN', saved.token]] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });

  it('without the token: UNAUTHENTICATED, for streams too; with a wrong one as well', async () => {
    expect(await modelInfoCode(new StepwiseClient(server.address, { tls, token: '' }))).toBe(status.UNAUTHENTICATED);
    expect(await modelInfoCode(new StepwiseClient(server.address, { tls, token: `${TOKEN}0` }))).toBe(status.UNAUTHENTICATED);
    const client = new StepwiseClient(server.address, { tls, token: '' });
    const refusal = await (async () => {
      for await (const _ of client.decode({ text: TEXT, maxNewTokens: 3 })) throw new Error('a step was decoded');
    })().catch((error: unknown) => error);
    client.close();
    expect(refusal).toBeInstanceOf(StepwiseCallError);
    expect((refusal as StepwiseCallError).code).toBe(status.UNAUTHENTICATED);
  });

  it('without a client certificate, with one from another CA, or in plaintext: no connection (UNAVAILABLE)', async () => {
    expect(await modelInfoCode(new StepwiseClient(server.address, { tls: { caFile: tls.caFile }, token: TOKEN }))).toBe(status.UNAVAILABLE);
    expect(await modelInfoCode(new StepwiseClient(server.address, { tls: { caFile: tls.caFile, certFile: stranger.cert, keyFile: stranger.key }, token: TOKEN }))).toBe(
      status.UNAVAILABLE,
    );
    expect(await modelInfoCode(new StepwiseClient(server.address, { token: TOKEN }))).toBe(status.UNAVAILABLE);
  });

  it('refuses a certificate without its key before connecting', () => {
    expect(() => new StepwiseClient(server.address, { tls: { caFile: tls.caFile, certFile: tls.certFile } })).toThrow(/needs its key/);
  });
});

/** Runs `stepwise decode TEXT ...args` with `env` added; resolves with its output and exit code. */
async function decodeCommand(args: readonly string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'clients/ts/cli/main.ts', 'decode', TEXT, '--max-new-tokens', '3', ...args], {
      timeout: 60_000,
      env: { ...process.env, STEPWISE_SERVER: '', STEPWISE_TOKEN: '', ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe('stepwise decode, secured server', () => {
  const fileFlags = (): string[] => ['--ca', tls.caFile!, '--cert', tls.certFile!, '--key', tls.keyFile!];

  it('decodes with --server, --ca, --cert, --key and --token', async () => {
    const outcome = await decodeCommand(['--server', server.address, ...fileFlags(), '--token', TOKEN]);
    expect(outcome.code, outcome.stderr).toBe(0);
    expect(outcome.stdout).toContain('(MAX_NEW_TOKENS after 3 tokens)');
  });

  it('takes the server and the token from STEPWISE_SERVER and STEPWISE_TOKEN', async () => {
    const outcome = await decodeCommand(fileFlags(), { STEPWISE_SERVER: server.address, STEPWISE_TOKEN: TOKEN });
    expect(outcome.code, outcome.stderr).toBe(0);
    expect(outcome.stdout).toContain('(MAX_NEW_TOKENS after 3 tokens)');
  });

  it('without a token says what the server needs, and exits 1', async () => {
    const outcome = await decodeCommand(['--server', server.address, ...fileFlags()]);
    expect(outcome.code).toBe(1);
    expect(outcome.stderr).toContain('UNAUTHENTICATED: this server needs a token: send the metadata `authorization: Bearer <token>`');
  });

  it('refuses --cert without --key', async () => {
    const outcome = await decodeCommand(['--server', server.address, '--ca', tls.caFile!, '--cert', tls.certFile!, '--token', TOKEN]);
    expect(outcome.code).not.toBe(0);
    expect(outcome.stderr).toContain('`--cert` and `--key` go together');
  });
});

describe('Python client, secured server', () => {
  const pythonEnv = (): Record<string, string> => ({
    STEPWISE_TOKEN: TOKEN,
    STEPWISE_TEST_CA: tls.caFile!,
    STEPWISE_TEST_CERT: tls.certFile!,
    STEPWISE_TEST_KEY: tls.keyFile!,
    STEPWISE_TEST_OTHER_CERT: stranger.cert,
    STEPWISE_TEST_OTHER_KEY: stranger.key,
  });

  beforeAll(async () => {
    await requirePythonPackages();
  });

  it('passes its secured-server checks, every one run and none skipped', async () => {
    const outcome = await runPython(['-m', 'unittest', 'discover', '-s', 'clients/python/tests', '-p', 'secure_*.py', '-v'], {
      server: server.address,
      env: pythonEnv(),
    });
    expect(outcome.code, outcome.stderr).toBe(0);
    const declared = readFileSync('clients/python/tests/secure_server_checks.py', 'utf8').match(/^ {4}def test_/gm)!.length;
    expect(outcome.stderr).toMatch(new RegExp(`Ran ${declared} tests in`));
    expect(outcome.stderr).not.toMatch(/skipped/);
  });

  it('runs an example with --ca, --cert and --key, the token from STEPWISE_TOKEN', async () => {
    const args = ['clients/python/examples/uncertainty.py', '--max-new-tokens', '3', '--ca', tls.caFile!, '--cert', tls.certFile!, '--key', tls.keyFile!];
    const outcome = await runPython(args, { server: server.address, env: pythonEnv() });
    expect(outcome.code, outcome.stderr).toBe(0);
    expect(outcome.stdout).toMatch(/mean entropy: \d+\.\d{4} nats over 3 steps/);
  });
});

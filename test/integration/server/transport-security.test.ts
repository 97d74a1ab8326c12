/**
 * TLS, mutual TLS and bearer tokens over 127.0.0.1, with certificates made by `openssl` in the test:
 * what a client with the right credentials gets, what the others are refused (and where: at the handshake,
 * or with UNAUTHENTICATED before any handler runs), what stays open (health), and the reload of the
 * certificate and token files while the server runs.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { connect, type PeerCertificate } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import {
  credentials,
  InterceptingCall,
  loadPackageDefinition,
  makeGenericClientConstructor,
  Metadata,
  status as Status,
  type ChannelCredentials,
  type Interceptor,
  type ServiceError,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { service as healthService } from 'grpc-health-check';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StepwiseServiceClient, StepwiseServiceService, DecodeMode } from '../../../src/gen/stepwise/v1/stepwise.js';
import { tinyModels } from '../../fixtures/models.js';
import { makeTestPki, type CertificateFiles, type TestPki } from '../../support/certificates.js';
import { DecodeStream, generateAll, unary, type CallStatus } from '../../support/decode-client.js';
import { startTestServer, type TestServer } from '../../support/test-server.js';

const TEXT = 'translate English to German: The house is wonderful.';
const require = createRequire(import.meta.url);
let pki: TestPki;
const folder = mkdtempSync(join(tmpdir(), 'stepwise-security-'));

beforeAll(() => {
  pki = makeTestPki();
});
afterAll(() => {
  pki?.remove();
  rmSync(folder, { recursive: true, force: true });
});

/** Adds `authorization: <value>` to every call of a channel (what a client's token option does). */
function authorizationInterceptor(value: string): Interceptor {
  return (options, nextCall) =>
    new InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        metadata.set('authorization', value);
        next(metadata, listener);
      },
    });
}

interface ClientSetup {
  readonly tls?: { readonly ca?: string; readonly client?: CertificateFiles };
  /** The whole `authorization` value, e.g. `Bearer abc`. */
  readonly authorization?: string;
}

const clients: { close(): void }[] = [];
afterAll(() => clients.forEach((client) => client.close()));

function channelCredentials(setup: ClientSetup): ChannelCredentials {
  if (setup.tls === undefined) return credentials.createInsecure();
  const read = (path: string | undefined): Buffer | null => (path === undefined ? null : readFileSync(path));
  return credentials.createSsl(read(setup.tls.ca), read(setup.tls.client?.key), read(setup.tls.client?.cert));
}

/** A new client on its own channel (so that it makes its own connection). */
function clientFor(server: TestServer, setup: ClientSetup = {}): StepwiseServiceClient {
  const client = new StepwiseServiceClient(server.address, channelCredentials(setup), {
    'grpc.use_local_subchannel_pool': 1,
    interceptors: setup.authorization === undefined ? [] : [authorizationInterceptor(setup.authorization)],
  });
  clients.push(client);
  return client;
}

/** Every RPC of `stepwise.v1.StepwiseService`, each called once; resolves with each one's final status. */
async function callEveryRpc(client: StepwiseServiceClient): Promise<Record<string, CallStatus>> {
  const settle = (call: Promise<unknown>): Promise<CallStatus> =>
    call.then(
      () => ({ code: Status.OK, details: '' }),
      (error: ServiceError) => ({ code: error.code, details: error.details }),
    );
  const decode = async (): Promise<CallStatus> => {
    const stream = DecodeStream.open(client, { deadline: new Date(Date.now() + 30_000) });
    stream.start({ input: { $case: 'text', value: TEXT }, maxNewTokens: 2, mode: DecodeMode.DECODE_MODE_AUTO });
    const { status } = await stream.drain();
    stream.call.end();
    return status;
  };
  const statuses = {
    decode: await decode(),
    generate: (await generateAll(client, { input: { $case: 'text', value: TEXT }, maxNewTokens: 2 }, { deadline: new Date(Date.now() + 30_000) })).status,
    getModelInfo: await settle(unary(client, 'getModelInfo', {})),
    listProcessors: await settle(unary(client, 'listProcessors', {})),
    tokenize: await settle(unary(client, 'tokenize', { text: TEXT })),
    detokenize: await settle(unary(client, 'detokenize', { tokenIds: [5, 6] })),
    score: await settle(unary(client, 'score', { input: { $case: 'text', value: TEXT }, targets: [{ target: { $case: 'tokenIds', value: { ids: [5, 1] } } }] })),
    scoreBatch: await settle(
      unary(client, 'scoreBatch', { requests: [{ input: { $case: 'text', value: TEXT }, targets: [{ target: { $case: 'tokenIds', value: { ids: [5, 1] } } }] }] }),
    ),
  };
  // The table above must name every method of the service, so a method added later is checked too.
  expect(Object.keys(statuses).sort()).toEqual(Object.keys(StepwiseServiceService).sort());
  return statuses;
}

/** `GetModelInfo` on `client`: its status. */
function modelInfoStatus(client: StepwiseServiceClient): Promise<CallStatus> {
  return unary(client, 'getModelInfo', {}).then(
    () => ({ code: Status.OK, details: '' }),
    (error: ServiceError) => ({ code: error.code, details: error.details }),
  );
}

/** What health reports for "" through a new channel with `setup`. */
function healthStatus(server: TestServer, setup: ClientSetup = {}): Promise<CallStatus & { status?: string }> {
  const Client = makeGenericClientConstructor(healthService, 'Health');
  const client = new Client(server.address, channelCredentials(setup), { 'grpc.use_local_subchannel_pool': 1 });
  clients.push(client);
  return new Promise((resolve) => {
    client['check']!({ service: '' }, (error: ServiceError | null, response: { status: string }) =>
      resolve(error ? { code: error.code, details: error.details } : { code: Status.OK, details: '', status: response.status }),
    );
  });
}

/** The services reflection lists, or the status it refused with. */
function reflectionList(server: TestServer, setup: ClientSetup = {}): Promise<CallStatus & { services?: string[] }> {
  const protoDir = join(dirname(require.resolve('@grpc/reflection/package.json')), 'build', 'proto');
  const definition = loadSync('grpc/reflection/v1/reflection.proto', { includeDirs: [protoDir], keepCase: true });
  const loaded = loadPackageDefinition(definition) as any;
  const client = new loaded.grpc.reflection.v1.ServerReflection(server.address, channelCredentials(setup), {
    interceptors: setup.authorization === undefined ? [] : [authorizationInterceptor(setup.authorization)],
  });
  clients.push(client);
  return new Promise((resolve) => {
    const call = client.ServerReflectionInfo();
    call.on('data', (response: { list_services_response?: { service: { name: string }[] } }) => {
      resolve({ code: Status.OK, details: '', services: response.list_services_response?.service.map((service) => service.name) });
      call.end();
    });
    call.on('error', (error: ServiceError) => resolve({ code: error.code, details: error.details }));
    call.write({ list_services: '' });
  });
}

/** The certificate a new TLS connection to the server is shown (trusting `ca`). */
function servedCertificate(server: TestServer, ca: string): Promise<PeerCertificate> {
  const [host, port] = server.address.split(':');
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port: Number(port), servername: 'localhost', ca: readFileSync(ca), ALPNProtocols: ['h2'] }, () => {
      resolve(socket.getPeerCertificate());
      socket.end();
    });
    socket.on('error', reject);
  });
}

/**
 * What a raw TLS connection with `client` (or no certificate) gets: `served` once the server's first
 * HTTP/2 frame (its SETTINGS, sent to every accepted connection) arrives, `closed before any byte` when
 * the server drops it, or the code of the TLS alert it ended the handshake with.
 */
function handshake(server: TestServer, client: CertificateFiles | undefined): Promise<string> {
  const [host, port] = server.address.split(':');
  return new Promise((resolve) => {
    const socket = connect({
      host,
      port: Number(port),
      servername: 'localhost',
      ca: readFileSync(pki.caFile),
      ALPNProtocols: ['h2'],
      ...(client && { cert: readFileSync(client.cert), key: readFileSync(client.key) }),
    });
    // With TLS 1.3 the client's side of the handshake completes before the server has checked the
    // client's certificate: the server's verdict comes right after, as an alert or a closed connection.
    socket.on('data', () => {
      resolve('served');
      socket.destroy();
    });
    socket.on('error', (error: Error & { code?: string }) => resolve(error.code ?? error.message));
    socket.on('close', () => resolve('closed before any byte'));
  });
}

const fingerprint = (path: string): string => new X509Certificate(readFileSync(path)).fingerprint256;

async function until(condition: () => Promise<boolean> | boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('TLS', () => {
  let server: TestServer;
  let files: CertificateFiles;
  let first: CertificateFiles;

  beforeAll(async () => {
    first = pki.serverCertificate('server-one');
    files = { cert: join(folder, 'tls.pem'), key: join(folder, 'tls.key') };
    copyFileSync(first.cert, files.cert);
    copyFileSync(first.key, files.key);
    // The files are re-read every 100 ms: the reload tests below replace them.
    server = await startTestServer({
      modelDir: tinyModels.reluTied,
      security: { tls: { certFile: files.cert, keyFile: files.key }, reloadIntervalMs: 100 },
      clientCredentials: channelCredentials({ tls: { ca: pki.caFile } }),
    });
  });
  afterAll(async () => server?.stop());

  it('serves every RPC to a client that trusts its CA, and health too', async () => {
    const statuses = await callEveryRpc(clientFor(server, { tls: { ca: pki.caFile } }));
    for (const [rpc, status] of Object.entries(statuses)) expect(status, rpc).toEqual({ code: Status.OK, details: expect.any(String) });
    expect((await healthStatus(server, { tls: { ca: pki.caFile } })).status).toBe('SERVING');
  });

  it('refuses a plaintext client: no call reaches the server (UNAVAILABLE)', async () => {
    expect((await modelInfoStatus(clientFor(server))).code).toBe(Status.UNAVAILABLE);
    expect((await healthStatus(server)).code).toBe(Status.UNAVAILABLE);
  });

  it('is refused by a client that does not trust the CA that signed its certificate', async () => {
    expect((await modelInfoStatus(clientFor(server, { tls: { ca: pki.otherCaFile } }))).code).toBe(Status.UNAVAILABLE);
  });

  it('logs the certificate it serves at start-up', () => {
    expect(server.logger.lines.join('\n')).toMatch(/INFO transport: TLS with certificate CN=server-one \(IP Address:127\.0\.0\.1, DNS:localhost\), valid until /);
  });

  it('a changed certificate file is picked up without a restart: new connections see it, open channels keep working', async () => {
    const open = clientFor(server, { tls: { ca: pki.caFile } });
    expect((await modelInfoStatus(open)).code).toBe(Status.OK);
    expect((await servedCertificate(server, pki.caFile)).fingerprint256).toBe(fingerprint(first.cert));
    const second = pki.serverCertificate('server-two');
    copyFileSync(second.key, files.key);
    copyFileSync(second.cert, files.cert);
    await until(async () => (await servedCertificate(server, pki.caFile)).fingerprint256 === fingerprint(second.cert), 'the new certificate served');
    expect(server.logger.lines).toContainEqual(expect.stringMatching(/^INFO reload: TLS certificate now CN=server-two/));
    expect((await modelInfoStatus(clientFor(server, { tls: { ca: pki.caFile } }))).code).toBe(Status.OK);
    expect((await modelInfoStatus(open)).code).toBe(Status.OK);
  });

  it('a reload (as on SIGHUP) to a certificate from another CA: new connections must trust that CA', async () => {
    const foreign = pki.serverCertificate('server-other-ca', 'other');
    copyFileSync(foreign.key, files.key);
    copyFileSync(foreign.cert, files.cert);
    await server.app.security.reload('SIGHUP');
    expect((await servedCertificate(server, pki.otherCaFile)).fingerprint256).toBe(fingerprint(foreign.cert));
    expect((await modelInfoStatus(clientFor(server, { tls: { ca: pki.otherCaFile } }))).code).toBe(Status.OK);
    expect((await modelInfoStatus(clientFor(server, { tls: { ca: pki.caFile } }))).code).toBe(Status.UNAVAILABLE);
    // Back to the first CA for the tests after this one.
    copyFileSync(first.key, files.key);
    copyFileSync(first.cert, files.cert);
    await server.app.security.reload('SIGHUP');
    expect((await servedCertificate(server, pki.caFile)).fingerprint256).toBe(fingerprint(first.cert));
  });

  it('a key that is not the certificate\'s is refused with a warning, and the previous certificate stays in use', async () => {
    const other = pki.serverCertificate('server-three');
    copyFileSync(other.key, files.key); // the certificate file still holds server-one's certificate
    await server.app.security.reload('SIGHUP');
    expect(server.logger.lines).toContainEqual(expect.stringMatching(/^WARN SIGHUP: reload failed: TLS key .* and certificate .* cannot be used together: .*key values mismatch; still serving the previous certificate/));
    expect((await servedCertificate(server, pki.caFile)).fingerprint256).toBe(fingerprint(first.cert));
    expect((await modelInfoStatus(clientFor(server, { tls: { ca: pki.caFile } }))).code).toBe(Status.OK);
    copyFileSync(first.key, files.key);
    await server.app.security.reload('SIGHUP');
  });
});

describe('mutual TLS', () => {
  let server: TestServer;
  let alice: CertificateFiles;

  beforeAll(async () => {
    const served = pki.serverCertificate('mtls-server');
    alice = pki.clientCertificate('alice');
    server = await startTestServer({
      modelDir: tinyModels.reluTied,
      security: { tls: { certFile: served.cert, keyFile: served.key, clientCaFile: pki.caFile } },
      clientCredentials: channelCredentials({ tls: { ca: pki.caFile, client: pki.clientCertificate('test-support') } }),
    });
  });
  afterAll(async () => server?.stop());

  it('serves every RPC to a client whose certificate its client CA signed', async () => {
    const statuses = await callEveryRpc(clientFor(server, { tls: { ca: pki.caFile, client: alice } }));
    for (const [rpc, status] of Object.entries(statuses)) expect(status.code, `${rpc}: ${status.details}`).toBe(Status.OK);
  });

  it('refuses a client without a certificate, and one whose certificate another CA signed, at the TLS handshake', async () => {
    const stranger = pki.clientCertificate('mallory', 'other');
    expect((await modelInfoStatus(clientFor(server, { tls: { ca: pki.caFile } }))).code).toBe(Status.UNAVAILABLE);
    expect((await modelInfoStatus(clientFor(server, { tls: { ca: pki.caFile, client: stranger } }))).code).toBe(Status.UNAVAILABLE);
    // Below gRPC: no certificate ends the handshake with OpenSSL's alert; a certificate that does not verify
    // gets the connection closed by Node as soon as the handshake ends, before any HTTP/2 frame.
    expect(await handshake(server, undefined)).toMatch(/CERTIFICATE_REQUIRED/);
    expect(await handshake(server, stranger)).toBe('closed before any byte');
    expect(await handshake(server, alice)).toBe('served');
  });

  it('refuses clients without a certificate on health too: mutual TLS guards the whole port', async () => {
    expect((await healthStatus(server, { tls: { ca: pki.caFile } })).code).toBe(Status.UNAVAILABLE);
    expect((await healthStatus(server, { tls: { ca: pki.caFile, client: alice } })).status).toBe('SERVING');
  });
});

describe('bearer tokens', () => {
  let server: TestServer;
  let tokenFile: string;
  const ALICE = 'alice-0123456789abcdef0123456789abcdef';
  const UNNAMED = 'f00dfeedf00dfeedf00dfeedf00dfeed';

  beforeAll(async () => {
    tokenFile = join(folder, 'tokens.txt');
    writeFileSync(tokenFile, `# callers\nalice:${ALICE}\n\n${UNNAMED}\n`);
    server = await startTestServer({
      modelDir: tinyModels.reluTied,
      security: { tokenFile, reloadIntervalMs: 0 },
    });
  });
  afterAll(async () => server?.stop());

  const everyRpcRefused = async (setup: ClientSetup): Promise<string[]> => {
    const statuses = await callEveryRpc(clientFor(server, setup));
    for (const [rpc, status] of Object.entries(statuses)) expect(status.code, `${rpc}: ${status.details}`).toBe(Status.UNAUTHENTICATED);
    return Object.values(statuses).map((status) => status.details);
  };

  it('refuses every RPC of stepwise.v1 (unary and streaming) without a token, with UNAUTHENTICATED saying what to send', async () => {
    const messages = await everyRpcRefused({});
    for (const message of messages) expect(message).toBe('this server needs a token: send the metadata `authorization: Bearer <token>`');
  });

  it('refuses every RPC with a wrong token, and the message names no token', async () => {
    const messages = await everyRpcRefused({ authorization: `Bearer ${ALICE.slice(0, -1)}x` });
    for (const message of messages) {
      expect(message).toBe('the bearer token is not valid on this server');
      expect(message).not.toContain(ALICE.slice(0, 8));
    }
  });

  it('refuses a token sent in another scheme, or without one', async () => {
    expect(await everyRpcRefused({ authorization: `Basic ${ALICE}` })).toContain('`authorization` must be `Bearer <token>`');
    expect(await everyRpcRefused({ authorization: ALICE })).toContain('`authorization` must be `Bearer <token>`');
  });

  it('serves every RPC with a valid token, named or not; the scheme is case-insensitive', async () => {
    for (const authorization of [`Bearer ${ALICE}`, `bearer ${UNNAMED}`]) {
      const statuses = await callEveryRpc(clientFor(server, { authorization }));
      for (const [rpc, status] of Object.entries(statuses)) expect(status.code, `${rpc}: ${status.details}`).toBe(Status.OK);
    }
  });

  it('keeps health open without a token (probes send none)', async () => {
    expect((await healthStatus(server)).status).toBe('SERVING');
  });

  it('reflection follows the service: refused without a token, served with one', async () => {
    expect((await reflectionList(server)).code).toBe(Status.UNAUTHENTICATED);
    const served = await reflectionList(server, { authorization: `Bearer ${ALICE}` });
    expect(served.services).toContain('stepwise.v1.StepwiseService');
  });

  it('logs the callers\' names, never a token', () => {
    const log = server.logger.lines.join('\n');
    expect(log).toContain(`bearer tokens required (2 from ${tokenFile}: alice, token-line-4); health stays open`);
    expect(log).not.toContain(ALICE);
    expect(log).not.toContain(UNNAMED);
  });

  it('a reloaded token file takes effect for the next call: a removed token is refused, an added one served', async () => {
    const BOB = 'bob-fedcba9876543210fedcba9876543210';
    writeFileSync(tokenFile, `bob:${BOB}\n`);
    await server.app.security.reload('SIGHUP');
    expect(server.logger.lines).toContainEqual('INFO SIGHUP: reload: bearer tokens now 1 (bob)');
    expect((await modelInfoStatus(clientFor(server, { authorization: `Bearer ${ALICE}` }))).code).toBe(Status.UNAUTHENTICATED);
    expect((await modelInfoStatus(clientFor(server, { authorization: `Bearer ${BOB}` }))).code).toBe(Status.OK);
    // A broken file keeps the tokens in force.
    writeFileSync(tokenFile, '# nothing\n');
    await server.app.security.reload('SIGHUP');
    expect(server.logger.lines.at(-1)).toMatch(/^WARN SIGHUP: reload failed: .* holds no token: .*; the previous tokens stay in force$/);
    expect((await modelInfoStatus(clientFor(server, { authorization: `Bearer ${BOB}` }))).code).toBe(Status.OK);
    writeFileSync(tokenFile, `alice:${ALICE}\n\n\n${UNNAMED}\n`);
    await server.app.security.reload('SIGHUP');
  });
});

describe('TLS with bearer tokens', () => {
  let server: TestServer;
  const TOKEN = 'carol-0123456789abcdef0123456789abcdef';

  beforeAll(async () => {
    const served = pki.serverCertificate('token-server');
    const tokenFile = join(folder, 'tls-tokens.txt');
    writeFileSync(tokenFile, `carol:${TOKEN}\n`);
    server = await startTestServer({
      modelDir: tinyModels.reluTied,
      security: { tls: { certFile: served.cert, keyFile: served.key }, tokenFile },
      clientCredentials: channelCredentials({ tls: { ca: pki.caFile } }),
    });
  });
  afterAll(async () => server?.stop());

  it('needs both: TLS with the token is served, TLS without it is UNAUTHENTICATED, plaintext with it is refused', async () => {
    expect((await modelInfoStatus(clientFor(server, { tls: { ca: pki.caFile }, authorization: `Bearer ${TOKEN}` }))).code).toBe(Status.OK);
    expect((await modelInfoStatus(clientFor(server, { tls: { ca: pki.caFile } }))).code).toBe(Status.UNAUTHENTICATED);
    expect((await modelInfoStatus(clientFor(server, { authorization: `Bearer ${TOKEN}` }))).code).toBe(Status.UNAVAILABLE);
  });
});

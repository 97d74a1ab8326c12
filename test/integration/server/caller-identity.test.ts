/**
 * What the authentication interceptor hands to the code after it, seen by a handler of a small service on
 * a real grpc-js server over 127.0.0.1: the caller's name in `stepwise-caller` (the token's name, else the
 * client certificate's subject, else `anonymous`), never the `authorization` metadata, and never a
 * `stepwise-caller` the client sent itself.
 */
import { readFileSync } from 'node:fs';
import {
  credentials,
  makeGenericClientConstructor,
  Metadata,
  Server,
  ServerCredentials,
  status as Status,
  type ChannelCredentials,
  type ServiceDefinition,
  type ServiceError,
} from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearerAuthInterceptor, callerOf, CALLER_METADATA_KEY } from '../../../src/server/bearer-auth.js';
import { TokenTable } from '../../../src/server/bearer-tokens.js';
import { makeTestPki, type TestPki } from '../../support/certificates.js';

const TOKEN = 'dave-0123456789abcdef0123456789abcdef';
const json = { serialize: (value: unknown) => Buffer.from(JSON.stringify(value)), deserialize: (bytes: Buffer) => JSON.parse(bytes.toString()) };

/** `Who` answers what its handler saw: the caller and whether any `authorization` metadata reached it. */
function whoService(path: string): ServiceDefinition {
  return {
    who: { path, requestStream: false, responseStream: false, requestSerialize: json.serialize, requestDeserialize: json.deserialize, responseSerialize: json.serialize, responseDeserialize: json.deserialize },
  };
}
const PROTECTED = whoService('/test.Who/Who');
const OPEN = whoService('/grpc.health.v1.Health/Who');

interface Seen {
  readonly caller: string;
  readonly callerValues: number;
  readonly authorization: number;
}

async function serve(credentialsOf: ServerCredentials, tokens: TokenTable | undefined): Promise<{ server: Server; port: number }> {
  const server = new Server({ interceptors: [bearerAuthInterceptor(() => tokens)] });
  const handler = (call: { metadata: Metadata }, callback: (error: null, seen: Seen) => void): void =>
    callback(null, { caller: callerOf(call.metadata), callerValues: call.metadata.get(CALLER_METADATA_KEY).length, authorization: call.metadata.get('authorization').length });
  server.addService(PROTECTED, { who: handler });
  server.addService(OPEN, { who: handler });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', credentialsOf, (error, bound) => (error ? reject(error) : resolve(bound))));
  return { server, port };
}

function who(port: number, service: ServiceDefinition, channel: ChannelCredentials, headers: Record<string, string>): Promise<Seen | { code: Status }> {
  const Client = makeGenericClientConstructor(service, 'Who');
  const client = new Client(`127.0.0.1:${port}`, channel, { 'grpc.use_local_subchannel_pool': 1, 'grpc.ssl_target_name_override': 'localhost' });
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(headers)) metadata.set(key, value);
  return new Promise((resolve) => {
    client['who']!({}, metadata, (error: ServiceError | null, seen: Seen) => {
      client.close();
      resolve(error ? { code: error.code } : seen);
    });
  });
}

describe('the caller, as handlers see it', () => {
  let pki: TestPki;
  const servers: Server[] = [];
  beforeAll(() => {
    pki = makeTestPki();
  });
  afterAll(() => {
    for (const server of servers) server.forceShutdown();
    pki.remove();
  });

  it('is the token\'s name; the handler never sees the token, nor a caller the client named itself', async () => {
    const { table } = TokenTable.parse(`dave:${TOKEN}\n`, 'tokens.txt');
    const { server, port } = await serve(ServerCredentials.createInsecure(), table);
    servers.push(server);
    const insecure = credentials.createInsecure();
    expect(await who(port, PROTECTED, insecure, { authorization: `Bearer ${TOKEN}`, [CALLER_METADATA_KEY]: 'admin' })).toEqual({ caller: 'dave', callerValues: 1, authorization: 0 });
    expect(await who(port, PROTECTED, insecure, { [CALLER_METADATA_KEY]: 'admin' })).toEqual({ code: Status.UNAUTHENTICATED });
    // Open services: a valid token still names the caller; a wrong one is ignored, not refused.
    expect(await who(port, OPEN, insecure, { authorization: `Bearer ${TOKEN}` })).toEqual({ caller: 'dave', callerValues: 1, authorization: 0 });
    expect(await who(port, OPEN, insecure, { authorization: 'Bearer nope', [CALLER_METADATA_KEY]: 'admin' })).toEqual({ caller: 'anonymous', callerValues: 1, authorization: 0 });
  });

  it('is `anonymous` on a server without tokens, which drops the metadata all the same', async () => {
    const { server, port } = await serve(ServerCredentials.createInsecure(), undefined);
    servers.push(server);
    expect(await who(port, PROTECTED, credentials.createInsecure(), { authorization: `Bearer ${TOKEN}`, [CALLER_METADATA_KEY]: 'admin' })).toEqual({
      caller: 'anonymous',
      callerValues: 1,
      authorization: 0,
    });
  });

  it('is the client certificate\'s subject under mutual TLS when no token names it', async () => {
    const served = pki.serverCertificate('who-server');
    const alice = pki.clientCertificate('alice');
    const mutual = ServerCredentials.createSsl(readFileSync(pki.caFile), [{ cert_chain: readFileSync(served.cert), private_key: readFileSync(served.key) }], true);
    const { table } = TokenTable.parse(`dave:${TOKEN}\n`, 'tokens.txt');
    const { server, port } = await serve(mutual, table);
    servers.push(server);
    const channel = credentials.createSsl(readFileSync(pki.caFile), readFileSync(alice.key), readFileSync(alice.cert));
    expect(await who(port, OPEN, channel, {})).toEqual({ caller: 'cert:alice', callerValues: 1, authorization: 0 });
    expect(await who(port, PROTECTED, channel, { authorization: `Bearer ${TOKEN}` })).toEqual({ caller: 'dave', callerValues: 1, authorization: 0 });
  });
});

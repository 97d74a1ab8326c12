/**
 * How the client reaches a secured server: TLS credentials from PEM files (the CA that signed the server's
 * certificate, and for mutual TLS this client's certificate and key), and a bearer token sent as
 * `authorization: Bearer <token>` on every call. Defaults come from the environment: `STEPWISE_SERVER`
 * for the address, `STEPWISE_TOKEN` for the token.
 *
 * The token is added by a client interceptor, not by gRPC call credentials: call credentials only ride
 * on TLS channels, and a token must also reach a plaintext server on localhost or behind a proxy that
 * ends TLS. Over plaintext anyone on the path can read it: use TLS across a network.
 */
import { readFileSync } from 'node:fs';
import { credentials, InterceptingCall, type ChannelCredentials, type Interceptor } from '@grpc/grpc-js';

/** The address `npm start` serves on. */
export const DEFAULT_SERVER = '127.0.0.1:50051';

/** TLS for the client's channel; an empty object means TLS with the system's root certificates. */
export interface ClientTls {
  /** PEM file of the CA certificate(s) that signed the server's certificate; default: the system's roots. */
  readonly caFile?: string;
  /** PEM file of this client's certificate, for a server that requires one (`serve --tls-client-ca`). */
  readonly certFile?: string;
  /** PEM file of that certificate's private key. */
  readonly keyFile?: string;
}

/** The server to use: `$STEPWISE_SERVER`, else `DEFAULT_SERVER`. */
export function defaultServer(env: NodeJS.ProcessEnv = process.env): string {
  return env.STEPWISE_SERVER || DEFAULT_SERVER;
}

/** The token to send: `$STEPWISE_TOKEN`, else none. */
export function defaultToken(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env.STEPWISE_TOKEN || undefined;
}

/** Plaintext credentials without `tls`, else TLS ones from its files (read now: a missing file fails here). */
export function channelCredentials(tls: ClientTls | undefined): ChannelCredentials {
  if (tls === undefined) return credentials.createInsecure();
  if ((tls.certFile === undefined) !== (tls.keyFile === undefined)) {
    throw new RangeError('a client certificate needs its key: give both certFile and keyFile, or neither');
  }
  const read = (path: string | undefined, what: string): Buffer | null => {
    if (path === undefined) return null;
    try {
      return readFileSync(path);
    } catch (error) {
      throw new Error(`cannot read the ${what} file ${path}: ${(error as Error).message}`);
    }
  };
  return credentials.createSsl(read(tls.caFile, 'CA'), read(tls.keyFile, 'client key'), read(tls.certFile, 'client certificate'));
}

/** An interceptor that sends `authorization: Bearer <token>` with every call. */
export function bearerTokenInterceptor(token: string): Interceptor {
  if (!/^[\x21-\x7e]+$/.test(token)) throw new RangeError('a token must be visible ASCII characters without spaces');
  const value = `Bearer ${token}`;
  return (options, nextCall) =>
    new InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        metadata.set('authorization', value);
        next(metadata, listener);
      },
    });
}

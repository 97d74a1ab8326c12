/**
 * Bearer-token authentication as a grpc-js server interceptor (`ServerOptions.interceptors`), so that no
 * handler has to remember it: a call of a protected service without a valid `authorization: Bearer <token>`
 * ends with UNAUTHENTICATED before its handler starts (no handler, no decode state, nothing read).
 *
 * Which calls are protected: everything but `grpc.health.v1.Health`. Kubernetes probes and load balancers
 * send no token, and health says nothing but SERVING or NOT_SERVING; reflection describes the whole API and
 * follows the service's rule. A service added later is protected unless it is added here as open.
 *
 * Every call, protected or not and with tokens configured or not, leaves this interceptor with:
 * - no `authorization` metadata: no handler or log line after this point can see, and so print, a token;
 * - `stepwise-caller` metadata naming who called (`callerOf`): the token's name in the token file, else
 *   the subject (CN) of the client's certificate under mutual TLS, else `anonymous`. A client's own
 *   `stepwise-caller` is dropped, so it cannot pose as someone else.
 *
 * The refusals never say which tokens exist, nor how close the one given was.
 */
import {
  Metadata,
  ResponderBuilder,
  ServerInterceptingCall,
  ServerListenerBuilder,
  status as Status,
  type ServerInterceptingCallInterface,
  type ServerInterceptor,
} from '@grpc/grpc-js';
import type { TokenTable } from './bearer-tokens.js';

/** The metadata key under which handlers find the caller's name. */
export const CALLER_METADATA_KEY = 'stepwise-caller';

/** The caller's name when neither a token nor a client certificate names it. */
export const ANONYMOUS_CALLER = 'anonymous';

/** Services any client may call without a token. */
const OPEN_SERVICES = ['grpc.health.v1.Health'];

/** The longest caller name handed on (a certificate's CN is the client's to choose). */
const MAX_CALLER_LENGTH = 128;

/** The caller's name as the interceptor left it in a call's metadata. */
export function callerOf(metadata: Metadata): string {
  const value = metadata.get(CALLER_METADATA_KEY)[0];
  return typeof value === 'string' && value !== '' ? value.slice(0, MAX_CALLER_LENGTH) : ANONYMOUS_CALLER;
}

/** Whether calls to the method at `path` (`/package.Service/Method`) need a token when tokens are configured. */
export function needsToken(path: string): boolean {
  return !OPEN_SERVICES.some((service) => path.startsWith(`/${service}/`));
}

/**
 * The interceptor. `tokens` gives the table in force at the time of each call (the token file can be
 * reloaded while the server runs), or undefined when the server takes no tokens.
 */
export function bearerAuthInterceptor(tokens: () => TokenTable | undefined): ServerInterceptor {
  return (method, call) => {
    const listener = new ServerListenerBuilder()
      .withOnReceiveMetadata((metadata, next) => {
        const table = tokens();
        const presented = metadata.get('authorization');
        metadata.remove('authorization');
        metadata.remove(CALLER_METADATA_KEY);
        const verdict = table === undefined ? { caller: undefined } : checkToken(table, presented, needsToken(method.path));
        if ('refusal' in verdict) {
          call.sendStatus({ code: Status.UNAUTHENTICATED, details: verdict.refusal, metadata: new Metadata() });
          return;
        }
        metadata.set(CALLER_METADATA_KEY, verdict.caller ?? certificateSubject(call) ?? ANONYMOUS_CALLER);
        next(metadata);
      })
      .build();
    return new ServerInterceptingCall(call, new ResponderBuilder().withStart((next) => next(listener)).build());
  };
}

type Verdict = { caller: string | undefined } | { refusal: string };

/** The caller a call's `authorization` values name, or why the call is refused (`required`: a protected method). */
function checkToken(table: TokenTable, values: readonly (string | Buffer)[], required: boolean): Verdict {
  const refuse = (refusal: string): Verdict => (required ? { refusal } : { caller: undefined });
  if (values.length === 0) return refuse('this server needs a token: send the metadata `authorization: Bearer <token>`');
  if (values.length > 1) return refuse(`send one \`authorization\` metadata value; given ${values.length}`);
  const match = typeof values[0] === 'string' ? /^bearer +(\S+) *$/i.exec(values[0]) : null;
  if (match === null) return refuse('`authorization` must be `Bearer <token>`');
  const caller = table.identify(match[1]!);
  return caller === undefined ? refuse('the bearer token is not valid on this server') : { caller };
}

/** The CN of the client's certificate, when the connection is mutual TLS. */
function certificateSubject(call: ServerInterceptingCallInterface): string | undefined {
  const subject = call.getAuthContext().sslPeerCertificate?.subject;
  const commonName = subject?.CN;
  const first = Array.isArray(commonName) ? commonName[0] : commonName;
  return first === undefined || first === '' ? undefined : `cert:${first}`;
}

/**
 * How the server's calls and connections begin, wait and end: the drain on shutdown, how long a stream may
 * wait for its client or for a slot, and the HTTP/2 keepalive and connection age. Plain data, each value
 * explained where it is declared; the CLI fills it from flags (`--drain-timeout`, ...), tests pass small
 * values. Every duration is in milliseconds; 0 turns the wait or the timer off, as each field says.
 */
import type { ChannelOptions } from '@grpc/grpc-js';

export interface LifecycleOptions {
  /**
   * How long, once shutdown began, new calls are still served while health already says NOT_SERVING, so
   * that load balancers polling health take the server out of rotation before it refuses calls; the drain
   * begins after it. 0: new calls are refused at once.
   */
  readonly shutdownDelayMs: number;
  /**
   * How long open streams may run on after shutdown began (while new calls are refused) before the rest
   * end with UNAVAILABLE. 0: they end at once.
   */
  readonly drainTimeoutMs: number;
  /**
   * How long a stream may wait for its client: for a LOCKSTEP decision, and for the `Start` of a `Decode`.
   * Past it the stream ends with DEADLINE_EXCEEDED and frees its slot and its decode state. 0: no limit.
   */
  readonly decisionTimeoutMs: number;
  /**
   * How long a stream beyond `maxConcurrentStreams` waits for a slot, in arrival order, before it is
   * refused with RESOURCE_EXHAUSTED. 0: refused at once.
   */
  readonly queueTimeoutMs: number;
  /**
   * How often the server pings each connection (HTTP/2 PING), so that a peer gone without closing its
   * connection is noticed and its streams end. 0: no pings.
   */
  readonly keepaliveTimeMs: number;
  /** How long a ping may go unanswered before the connection is closed (its streams cancelled). */
  readonly keepaliveTimeoutMs: number;
  /**
   * Age (±10% jitter) at which a connection is asked to go away (GOAWAY), so clients reconnect and load
   * balancers can spread long-lived clients; streams open on it run on. 0: connections never age.
   */
  readonly maxConnectionAgeMs: number;
  /** How long streams on an aged connection may run on before it is closed. 0: until they end. */
  readonly maxConnectionAgeGraceMs: number;
}

/** The defaults of a server composed in code: no drain (shutdown ends open streams at once, as tests want). */
export const DEFAULT_LIFECYCLE: LifecycleOptions = {
  shutdownDelayMs: 0,
  drainTimeoutMs: 0,
  decisionTimeoutMs: 60_000,
  queueTimeoutMs: 0,
  keepaliveTimeMs: 60_000,
  keepaliveTimeoutMs: 20_000,
  maxConnectionAgeMs: 0,
  maxConnectionAgeGraceMs: 0,
};

/** Completes partial options with the defaults and checks them; a bad value is a start-up error naming it. */
export function resolveLifecycle(given: Partial<LifecycleOptions>): LifecycleOptions {
  const defined = Object.fromEntries(Object.entries(given).filter(([, value]) => value !== undefined));
  const options: LifecycleOptions = { ...DEFAULT_LIFECYCLE, ...defined };
  for (const [key, value] of Object.entries(options)) {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`lifecycle option \`${key}\` must be a non-negative integer of milliseconds; given ${value}`);
  }
  if (options.keepaliveTimeMs > 0 && options.keepaliveTimeoutMs === 0) {
    throw new RangeError('lifecycle option `keepaliveTimeoutMs` must be positive when pings are on (`keepaliveTimeMs` > 0); given 0');
  }
  return options;
}

/** The grpc-js server options for keepalive and connection age; what is off is left at grpc-js's default (off). */
export function connectionOptions(options: LifecycleOptions): ChannelOptions {
  return {
    ...(options.keepaliveTimeMs > 0 && {
      'grpc.keepalive_time_ms': options.keepaliveTimeMs,
      'grpc.keepalive_timeout_ms': options.keepaliveTimeoutMs,
    }),
    ...(options.maxConnectionAgeMs > 0 && { 'grpc.max_connection_age_ms': options.maxConnectionAgeMs }),
    ...(options.maxConnectionAgeGraceMs > 0 && { 'grpc.max_connection_age_grace_ms': options.maxConnectionAgeGraceMs }),
  };
}

/** A duration as messages say it: 300 → "0.3 s", 60000 → "60 s". */
export function inSeconds(ms: number): string {
  return `${ms / 1000} s`;
}

/**
 * One access line per RPC, written when the call ends, and the count of RPCs by method and status code.
 * The line names the method, the peer, the caller, the status code and the duration; a stream adds its
 * model, input length, tokens, steps and finish reason (`StreamReport`); a failed call adds the message
 * its client got (which may quote the value it refused). Neither the request's text nor its credentials
 * go in: the caller is the name authentication put on the call (`callerOf` of `bearer-auth.ts`), never a token. The
 * cause behind an INTERNAL status has its own error line, written by `status.ts`.
 *
 * ```json
 * {"level":"info","time":"...","kind":"access","method":"Decode","peer":"127.0.0.1:50412","caller":"anonymous",
 *  "code":"OK","durationMs":41.7,"call":"Decode #3","model":"default","inputTokens":11,"tokens":8,"steps":8,
 *  "finishReason":"max_new_tokens","msg":"Decode OK in 41.7 ms"}
 * ```
 */
import { performance } from 'node:perf_hooks';
import { status as Status, type handleUnaryCall, type Metadata } from '@grpc/grpc-js';
import { inject, injectable } from 'tsyringe';
import { LOGGER } from '../tokens.js';
import type { LogFields, Logger } from './logger.js';
import { callerOf } from './bearer-auth.js';
import { ServerMetrics } from './server-metrics.js';

/** Codes that say the server failed, not the request: their lines are warnings. */
const SERVER_FAILURES = new Set([Status.INTERNAL, Status.UNKNOWN, Status.UNAVAILABLE, Status.DATA_LOSS, Status.UNIMPLEMENTED]);

/** The part of a grpc-js server call the access line reads. */
export interface AccessedCall {
  getPeer(): string;
  readonly metadata: Metadata;
}

export interface AccessEntry {
  readonly method: string;
  readonly call: AccessedCall;
  /** `performance.now()` when the call began. */
  readonly startedAt: number;
  readonly code: Status;
  /** The status message the client got. */
  readonly details?: string;
  /** More facts about the call (a stream's `StreamReport` fields, its number). */
  readonly fields?: LogFields;
}

@injectable()
export class AccessLog {
  constructor(
    @inject(LOGGER) private readonly logger: Logger,
    @inject(ServerMetrics) private readonly metrics: ServerMetrics,
  ) {}

  /** Counts the call and writes its line. */
  record(entry: AccessEntry): void {
    const code = Status[entry.code] ?? String(entry.code);
    this.metrics.rpcEnded(entry.method, code);
    const durationMs = Math.round((performance.now() - entry.startedAt) * 10) / 10;
    const fields: LogFields = {
      kind: 'access',
      method: entry.method,
      peer: peerOf(entry.call),
      caller: callerOf(entry.call.metadata),
      code,
      durationMs,
      ...(entry.code !== Status.OK && entry.details !== undefined && { details: entry.details }),
      ...entry.fields,
    };
    const message = `${entry.method} ${code} in ${durationMs} ms`;
    if (SERVER_FAILURES.has(entry.code)) this.logger.warn(message, fields);
    else this.logger.info(message, fields);
  }

  /** `handler`, with the access line of each call written when it answers. */
  unary<Req, Res>(method: string, handler: handleUnaryCall<Req, Res>): handleUnaryCall<Req, Res> {
    return (call, callback) => {
      const startedAt = performance.now();
      handler(call, (error, ...rest) => {
        const code = error === null ? Status.OK : (error.code ?? Status.UNKNOWN);
        const details = error === null ? undefined : (error.details ?? ('message' in error ? error.message : undefined));
        this.record({ method, call, startedAt, code, details });
        callback(error, ...rest);
      });
    };
  }
}

function peerOf(call: AccessedCall): string {
  try {
    return call.getPeer();
  } catch {
    return 'unknown';
  }
}

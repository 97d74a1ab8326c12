/**
 * The life of a streaming call (`Decode`, `Generate`), shared by both handlers: take a stream slot, build
 * the call's context, run the handler's body, and end the call exactly once, with OK after the body's
 * final message, or with the status `status.ts` picks for the error it threw. A call the client cancelled
 * (or whose deadline passed) gets no answer: grpc-js has already ended it. However it ends, its access
 * line is written once (`AccessLog`), with what its `StreamReport` gathered.
 */
import { performance } from 'node:perf_hooks';
import { status as Status, type ServerWritableStream, type StatusObject } from '@grpc/grpc-js';
import { inject, injectable } from 'tsyringe';
import { LOGGER } from '../tokens.js';
import { AccessLog } from './access-log.js';
import { createCallContext, type CallContext, type CallEndReason } from './call-context.js';
import type { Logger } from './logger.js';
import { ServerMetrics } from './server-metrics.js';
import { ShutdownSignal } from './shutdown-signal.js';
import { resourceExhausted, toStatusObject, unavailable } from './status.js';
import { StreamReport } from './stream-report.js';
import { StreamSlots } from './stream-slots.js';

/** The grpc-js call types of our streaming RPCs (both are writable server calls). */
export type StreamingCall = ServerWritableStream<unknown, Buffer>;

/** A streaming call's context, with what the stream reports of itself for its access line and the metrics. */
export interface StreamingContext extends CallContext {
  readonly report: StreamReport;
  /** The RPC, e.g. "Decode". */
  readonly method: string;
  /** The RPC and the call's number, e.g. "Decode #7". */
  readonly name: string;
}

/** The code a call ended by its client or the server's shutdown is logged with (none: it was logged already). */
const CODE_OF_END: Readonly<Record<CallEndReason, Status | undefined>> = {
  cancelled: Status.CANCELLED,
  deadline: Status.DEADLINE_EXCEEDED,
  shutdown: Status.UNAVAILABLE,
  completed: undefined,
};

@injectable()
export class StreamingCalls {
  /** Calls begun by this server, to number them in log lines. */
  private calls = 0;

  constructor(
    @inject(StreamSlots) private readonly slots: StreamSlots,
    @inject(ShutdownSignal) private readonly shutdown: ShutdownSignal,
    @inject(LOGGER) private readonly logger: Logger,
    @inject(AccessLog) private readonly access: AccessLog,
    @inject(ServerMetrics) private readonly metrics: ServerMetrics,
  ) {}

  /** Runs `body` as the call's work; the call ends when it settles (or earlier, when the client leaves). */
  run(call: StreamingCall, rpcName: string, body: (context: StreamingContext) => Promise<void>): void {
    this.calls += 1;
    const name = `${rpcName} #${this.calls}`;
    const report = new StreamReport(this.metrics);
    const context: StreamingContext = Object.assign(createCallContext(call, name, this.shutdown.signal), { report, method: rpcName, name });
    const release = this.slots.tryAcquire();
    if (release === undefined) {
      const refusal = resourceExhausted(
        `at most ${this.slots.capacity} streams may be open at once (\`max_concurrent_streams\`); ${this.slots.active} are open`,
      );
      this.fail(call, context, refusal);
      return;
    }
    context.onEnd(release);
    body(context).then(
      () => {
        if (context.endReason !== undefined) return this.ended(call, context, CODE_OF_END[context.endReason]);
        context.end('completed');
        this.ended(call, context, Status.OK);
        call.end();
      },
      (error: unknown) => this.fail(call, context, error),
    );
  }

  private fail(call: StreamingCall, context: StreamingContext, error: unknown): void {
    const reason = context.endReason;
    if (reason === 'cancelled' || reason === 'deadline' || reason === 'completed') return this.ended(call, context, CODE_OF_END[reason]);
    const status =
      reason === 'shutdown'
        ? toStatusObject(unavailable('the server is shutting down; retry on another instance'), this.logger, context.label)
        : toStatusObject(error, this.logger, context.label);
    context.end('completed');
    this.ended(call, context, status.code, status.details);
    call.emit('error', status);
  }

  /** Writes the call's access line, once; `code` undefined: the line was written when the call ended. */
  private ended(call: StreamingCall, context: StreamingContext, code: StatusObject['code'] | undefined, details?: string): void {
    if (code === undefined || !context.report.close()) return;
    const fields = { call: context.name, ...context.report.fields() };
    this.access.record({ method: context.method, call, startedAt: context.report.startedAt, code, details, fields });
  }
}

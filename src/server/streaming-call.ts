/**
 * The life of a streaming call (`Decode`, `Generate`), shared by both handlers: take a stream slot (or
 * wait for one, up to the queue timeout; refused with UNAVAILABLE once shutdown began), build the call's
 * context, run the handler's body, and end the call exactly once, with OK after the body's final message,
 * or with the status `status.ts` picks for the error it threw. A call the client cancelled (or whose
 * deadline passed) gets no answer: grpc-js has already ended it. However it ends, its access line is
 * written once (`AccessLog`), with what its `StreamReport` gathered.
 */
import { status as Status, type ServerWritableStream, type StatusObject } from '@grpc/grpc-js';
import { inject, injectable } from 'tsyringe';
import { LIFECYCLE_OPTIONS, LOGGER } from '../tokens.js';
import { AccessLog } from './access-log.js';
import { createCallContext, type CallContext, type CallEndReason } from './call-context.js';
import { inSeconds, type LifecycleOptions } from './lifecycle-options.js';
import type { Logger } from './logger.js';
import { ServerMetrics } from './server-metrics.js';
import { ShutdownSignal, shuttingDown } from './shutdown-signal.js';
import { resourceExhausted, toStatusObject } from './status.js';
import { StreamReport } from './stream-report.js';
import { StreamSlots, type ReleaseSlot } from './stream-slots.js';

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

type Body = (context: StreamingContext) => Promise<void>;

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
    @inject(LIFECYCLE_OPTIONS) private readonly lifecycle: LifecycleOptions,
    @inject(AccessLog) private readonly access: AccessLog,
    @inject(ServerMetrics) private readonly metrics: ServerMetrics,
  ) {}

  /** Runs `body` as the call's work; the call ends when it settles (or earlier, when the client leaves). */
  run(call: StreamingCall, rpcName: string, body: Body): void {
    this.calls += 1;
    const name = `${rpcName} #${this.calls}`;
    const report = new StreamReport(this.metrics);
    const context: StreamingContext = Object.assign(createCallContext(call, name, this.shutdown.signal), { report, method: rpcName, name });
    if (this.shutdown.draining) return this.fail(call, context, shuttingDown());
    const release = this.slots.tryAcquire();
    if (release !== undefined) return this.begin(call, context, release, body);
    this.waitForSlot(context).then(
      (waited) => this.begin(call, context, waited, body),
      (error: unknown) => this.fail(call, context, error),
    );
  }

  /** Runs the body of a call that holds a slot; the slot is freed however the call ends. */
  private begin(call: StreamingCall, context: StreamingContext, release: ReleaseSlot, body: Body): void {
    context.onEnd(release);
    // A waiter granted its slot just as it left: the slot went back with the cleanup above.
    if (context.endReason !== undefined) return this.ended(call, context, CODE_OF_END[context.endReason]);
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

  /** Every slot is taken: waits for one up to the queue timeout, or refuses at once when it is 0. */
  private async waitForSlot(context: CallContext): Promise<ReleaseSlot> {
    const { capacity } = this.slots;
    const full = `at most ${capacity} streams may be open at once (\`max_concurrent_streams\`)`;
    const waitMs = this.lifecycle.queueTimeoutMs;
    if (waitMs === 0) throw resourceExhausted(`${full}; ${this.slots.active} are open`);
    const release = await this.slots.waitFor(waitMs, context.signal);
    if (release === undefined) throw resourceExhausted(`${full}; none was freed within ${inSeconds(waitMs)} of waiting (\`--queue-timeout\`)`);
    return release;
  }

  private fail(call: StreamingCall, context: StreamingContext, error: unknown): void {
    const reason = context.endReason;
    if (reason === 'cancelled' || reason === 'deadline' || reason === 'completed') return this.ended(call, context, CODE_OF_END[reason]);
    const status = toStatusObject(reason === 'shutdown' ? shuttingDown() : error, this.logger, context.label);
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

/**
 * The life of a streaming call (`Decode`, `Generate`), shared by both handlers: take a stream slot (or
 * wait for one, up to the queue timeout; refused with UNAVAILABLE once shutdown began), build the call's
 * context, run the handler's body, and end the call exactly once, with OK after the body's final message,
 * or with the status `status.ts` picks for the error it threw. A call the client cancelled (or whose
 * deadline passed) gets no answer: grpc-js has already ended it.
 */
import type { ServerWritableStream } from '@grpc/grpc-js';
import { inject, injectable } from 'tsyringe';
import { LIFECYCLE_OPTIONS, LOGGER } from '../tokens.js';
import { createCallContext, type CallContext } from './call-context.js';
import { inSeconds, type LifecycleOptions } from './lifecycle-options.js';
import type { Logger } from './logger.js';
import { ShutdownSignal, shuttingDown } from './shutdown-signal.js';
import { resourceExhausted, toStatusObject } from './status.js';
import { StreamSlots, type ReleaseSlot } from './stream-slots.js';

/** The grpc-js call types of our streaming RPCs (both are writable server calls). */
export type StreamingCall = ServerWritableStream<unknown, Buffer>;

@injectable()
export class StreamingCalls {
  /** Calls begun by this server, to number them in log lines. */
  private calls = 0;

  constructor(
    @inject(StreamSlots) private readonly slots: StreamSlots,
    @inject(ShutdownSignal) private readonly shutdown: ShutdownSignal,
    @inject(LOGGER) private readonly logger: Logger,
    @inject(LIFECYCLE_OPTIONS) private readonly lifecycle: LifecycleOptions,
  ) {}

  /** Runs `body` as the call's work; the call ends when it settles (or earlier, when the client leaves). */
  run(call: StreamingCall, rpcName: string, body: (context: CallContext) => Promise<void>): void {
    this.calls += 1;
    const context = createCallContext(call, `${rpcName} #${this.calls}`, this.shutdown.signal);
    if (this.shutdown.draining) return this.fail(call, context, shuttingDown());
    const release = this.slots.tryAcquire();
    if (release !== undefined) return this.begin(call, context, release, body);
    this.waitForSlot(context).then(
      (waited) => this.begin(call, context, waited, body),
      (error: unknown) => this.fail(call, context, error),
    );
  }

  /** Runs the body of a call that holds a slot; the slot is freed however the call ends. */
  private begin(call: StreamingCall, context: CallContext, release: ReleaseSlot, body: (context: CallContext) => Promise<void>): void {
    context.onEnd(release);
    // A waiter granted its slot just as it left: the slot went back with the cleanup above.
    if (context.endReason !== undefined) return;
    body(context).then(
      () => {
        if (context.endReason !== undefined) return;
        context.end('completed');
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

  private fail(call: StreamingCall, context: CallContext, error: unknown): void {
    const reason = context.endReason;
    if (reason === 'cancelled' || reason === 'deadline' || reason === 'completed') return;
    const status =
      reason === 'shutdown'
        ? toStatusObject(shuttingDown(), this.logger, context.label)
        : toStatusObject(error, this.logger, context.label);
    context.end('completed');
    call.emit('error', status);
  }
}

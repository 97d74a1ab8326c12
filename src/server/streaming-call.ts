/**
 * The life of a streaming call (`Decode`, `Generate`), shared by both handlers: take a stream slot, build
 * the call's context, run the handler's body, and end the call exactly once, with OK after the body's
 * final message, or with the status `status.ts` picks for the error it threw. A call the client cancelled
 * (or whose deadline passed) gets no answer: grpc-js has already ended it.
 */
import type { ServerWritableStream } from '@grpc/grpc-js';
import { inject, injectable } from 'tsyringe';
import { LOGGER } from '../tokens.js';
import { createCallContext, type CallContext } from './call-context.js';
import type { Logger } from './logger.js';
import { ShutdownSignal } from './shutdown-signal.js';
import { resourceExhausted, toStatusObject, unavailable } from './status.js';
import { StreamSlots } from './stream-slots.js';

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
  ) {}

  /** Runs `body` as the call's work; the call ends when it settles (or earlier, when the client leaves). */
  run(call: StreamingCall, rpcName: string, body: (context: CallContext) => Promise<void>): void {
    this.calls += 1;
    const context = createCallContext(call, `${rpcName} #${this.calls}`, this.shutdown.signal);
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
        if (context.endReason !== undefined) return;
        context.end('completed');
        call.end();
      },
      (error: unknown) => this.fail(call, context, error),
    );
  }

  private fail(call: StreamingCall, context: CallContext, error: unknown): void {
    const reason = context.endReason;
    if (reason === 'cancelled' || reason === 'deadline' || reason === 'completed') return;
    const status =
      reason === 'shutdown'
        ? toStatusObject(unavailable('the server is shutting down; retry on another instance'), this.logger, context.label)
        : toStatusObject(error, this.logger, context.label);
    context.end('completed');
    call.emit('error', status);
  }
}

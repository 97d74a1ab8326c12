/**
 * `Decode`: the bidirectional stream. Its first message must be `Start` (within the decision timeout);
 * the session then runs the stream (LOCKSTEP or AUTO) and reads the client's later messages itself.
 */
import type { ServerDuplexStream } from '@grpc/grpc-js';
import { inject, injectable } from 'tsyringe';
import type { DecodeRequest } from '../gen/stepwise/v1/stepwise.js';
import { LIFECYCLE_OPTIONS } from '../tokens.js';
import { ClientMessages } from './client-messages.js';
import type { LifecycleOptions } from './lifecycle-options.js';
import { MalformedRequest, malformedRequestError } from './service-definition.js';
import { SessionCalls } from './session-call.js';
import { failedPrecondition, invalidArgument } from './status.js';
import { StreamingCalls, type StreamingCall } from './streaming-call.js';

@injectable()
export class DecodeHandler {
  constructor(
    @inject(StreamingCalls) private readonly calls: StreamingCalls,
    @inject(SessionCalls) private readonly sessions: SessionCalls,
    @inject(LIFECYCLE_OPTIONS) private readonly lifecycle: LifecycleOptions,
  ) {}

  /** The grpc-js handler. */
  readonly handle = (call: ServerDuplexStream<DecodeRequest | MalformedRequest, Buffer>): void => {
    this.calls.run(call as unknown as StreamingCall, 'Decode', async (context) => {
      const startedAt = performance.now();
      const messages = new ClientMessages<DecodeRequest | MalformedRequest>(call, context.signal, this.lifecycle.decisionTimeoutMs);
      const first = await messages.next('`start` message');
      if (first === undefined) throw failedPrecondition('the client closed the stream before sending `start`');
      if (first instanceof MalformedRequest) throw malformedRequestError(first);
      const message = first.message;
      if (message === undefined) throw invalidArgument('`message` must be set (start, decision or stop); given none');
      if (message.$case !== 'start') {
        throw failedPrecondition(`the first message must be \`start\`; given \`${message.$case}\``);
      }
      await this.sessions.run(call, context, 'decode', message.value, messages, startedAt);
    });
  };
}

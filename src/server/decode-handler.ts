/**
 * `Decode`: the bidirectional stream. Its first message must be `Start`; the session then runs the
 * stream (LOCKSTEP or AUTO) and reads the client's later messages itself.
 */
import type { ServerDuplexStream } from '@grpc/grpc-js';
import { inject, injectable } from 'tsyringe';
import { type DecodeRequest, DecodeResponse } from '../gen/stepwise/v1/stepwise.js';
import { LOGGER } from '../tokens.js';
import { ClientMessages } from './client-messages.js';
import type { Logger } from './logger.js';
import { ResponseWriter } from './response-writer.js';
import { encodeLogitsEnvelope } from './logits-envelope.js';
import { encodeMessage, MalformedRequest, malformedRequestError } from './service-definition.js';
import { SessionFactory } from './session-factory.js';
import { ShutdownSignal } from './shutdown-signal.js';
import { failedPrecondition, invalidArgument } from './status.js';
import { StreamingCalls, type StreamingCall } from './streaming-call.js';
import { StreamSlots } from './stream-slots.js';

@injectable()
export class DecodeHandler {
  private readonly calls: StreamingCalls;

  constructor(
    @inject(SessionFactory) private readonly sessions: SessionFactory,
    @inject(StreamSlots) slots: StreamSlots,
    @inject(ShutdownSignal) shutdown: ShutdownSignal,
    @inject(LOGGER) logger: Logger,
  ) {
    this.calls = new StreamingCalls(slots, shutdown.signal, logger);
  }

  /** The grpc-js handler. */
  readonly handle = (call: ServerDuplexStream<DecodeRequest | MalformedRequest, Buffer>): void => {
    this.calls.run(call as unknown as StreamingCall, 'Decode', async (context) => {
      const startedAt = performance.now();
      const messages = new ClientMessages<DecodeRequest | MalformedRequest>(call, context.signal);
      const first = await messages.next();
      if (first === undefined) throw failedPrecondition('the client closed the stream before sending `start`');
      if (first instanceof MalformedRequest) throw malformedRequestError(first);
      const message = first.message;
      if (message === undefined) throw invalidArgument('`message` must be set (start, decision or stop); given none');
      if (message.$case !== 'start') {
        throw failedPrecondition(`the first message must be \`start\`; given \`${message.$case}\``);
      }
      const writer = new ResponseWriter(call, context.signal);
      const session = await this.sessions.open(message.value, 'decode', {
        send: (payload) =>
          writer.write(
            (payload.$case === 'logits' ? encodeLogitsEnvelope(payload.value) : undefined) ??
              encodeMessage(DecodeResponse, { message: payload }),
          ),
        messages,
        signal: context.signal,
        startedAt,
      });
      context.onEnd(() => session.dispose());
      await session.run();
    });
  };
}

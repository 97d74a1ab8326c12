/** `Generate`: one `Start` (AUTO only), then the same per-step messages as `Decode`, server to client. */
import type { ServerWritableStream } from '@grpc/grpc-js';
import { inject, injectable } from 'tsyringe';
import { type GenerateRequest, GenerateResponse } from '../gen/stepwise/v1/stepwise.js';
import { LOGGER } from '../tokens.js';
import type { SessionMessage } from './decode-session.js';
import type { Logger } from './logger.js';
import { ResponseWriter } from './response-writer.js';
import { encodeLogitsEnvelope } from './logits-envelope.js';
import { encodeMessage, MalformedRequest, malformedRequestError } from './service-definition.js';
import { SessionFactory } from './session-factory.js';
import { ShutdownSignal } from './shutdown-signal.js';
import { invalidArgument } from './status.js';
import { StreamingCalls, type StreamingCall } from './streaming-call.js';
import { StreamSlots } from './stream-slots.js';

@injectable()
export class GenerateHandler {
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
  readonly handle = (call: ServerWritableStream<GenerateRequest | MalformedRequest, Buffer>): void => {
    this.calls.run(call as unknown as StreamingCall, 'Generate', async (context) => {
      const startedAt = performance.now();
      const request = call.request;
      if (request instanceof MalformedRequest) throw malformedRequestError(request);
      if (request.start === undefined) throw invalidArgument('`start` must be set; given none');
      const writer = new ResponseWriter(call, context.signal);
      const session = await this.sessions.open(request.start, 'generate', {
        send: (payload) =>
          writer.write(
            (payload.$case === 'logits' ? encodeLogitsEnvelope(payload.value) : undefined) ??
              encodeMessage(GenerateResponse, { message: generateMessage(payload) }),
          ),
        messages: undefined,
        signal: context.signal,
        startedAt,
      });
      context.onEnd(() => session.dispose());
      await session.run();
    });
  };
}

/** `Generate` carries every session message except `Applied`, which only answers client messages. */
function generateMessage(payload: SessionMessage): GenerateResponse['message'] {
  if (payload.$case === 'applied') throw new Error('a Generate stream has no client messages to apply');
  return payload;
}

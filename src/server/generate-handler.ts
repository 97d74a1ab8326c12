/** `Generate`: one `Start` (AUTO only), then the same per-step messages as `Decode`, server to client. */
import type { ServerWritableStream } from '@grpc/grpc-js';
import { inject, injectable } from 'tsyringe';
import type { GenerateRequest } from '../gen/stepwise/v1/stepwise.js';
import { MalformedRequest, malformedRequestError } from './service-definition.js';
import { SessionCalls } from './session-call.js';
import { invalidArgument } from './status.js';
import { StreamingCalls, type StreamingCall } from './streaming-call.js';

@injectable()
export class GenerateHandler {
  constructor(
    @inject(StreamingCalls) private readonly calls: StreamingCalls,
    @inject(SessionCalls) private readonly sessions: SessionCalls,
  ) {}

  /** The grpc-js handler. */
  readonly handle = (call: ServerWritableStream<GenerateRequest | MalformedRequest, Buffer>): void => {
    this.calls.run(call as unknown as StreamingCall, 'Generate', async (context) => {
      const startedAt = performance.now();
      const request = call.request;
      if (request instanceof MalformedRequest) throw malformedRequestError(request);
      if (request.start === undefined) throw invalidArgument('`start` must be set; given none');
      await this.sessions.run(call, context, 'generate', request.start, undefined, startedAt);
    });
  };
}

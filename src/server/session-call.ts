/**
 * The one send path of `Decode` and `Generate`: opens the stream's session from its `Start`, writes its
 * messages encoded (`ResponseEncoder`) with back-pressure (`ResponseWriter`), frees its decode state
 * however the call ends, and runs it to its end. Every message it writes, and every step and rewind,
 * goes to the call's `StreamReport` (its access line and the server's metrics).
 */
import type { Writable } from 'node:stream';
import { inject, injectable } from 'tsyringe';
import type { DecodeRequest, Start } from '../gen/stepwise/v1/stepwise.js';
import type { ClientMessages } from './client-messages.js';
import { RESPONSE_ENCODER } from '../tokens.js';
import type { ResponseEncoder } from './response-encoder.js';
import { ResponseWriter } from './response-writer.js';
import { ServerMetrics } from './server-metrics.js';
import type { MalformedRequest } from './service-definition.js';
import { SessionFactory } from './session-factory.js';
import type { StartingRpc } from './start-request.js';
import type { StreamingContext } from './streaming-call.js';

@injectable()
export class SessionCalls {
  constructor(
    @inject(SessionFactory) private readonly sessions: SessionFactory,
    @inject(RESPONSE_ENCODER) private readonly encoder: ResponseEncoder,
    @inject(ServerMetrics) private readonly metrics: ServerMetrics,
  ) {}

  /**
   * Runs the session of `start` on `call`. `messages`: the client's messages after `Start` (`Decode`);
   * undefined for `Generate`, which has none. `startedAt`: `performance.now()` when the call began.
   */
  async run(
    call: Writable,
    context: StreamingContext,
    rpc: StartingRpc,
    start: Start,
    messages: ClientMessages<DecodeRequest | MalformedRequest> | undefined,
    startedAt: number,
  ): Promise<void> {
    const writer = new ResponseWriter(call, context.signal, this.metrics);
    context.onEnd(() => writer.close());
    const { report } = context;
    const session = await this.sessions.open(start, rpc, {
      send: (message) => {
        report.sent(message);
        return writer.write(this.encoder.encode(message));
      },
      messages,
      signal: context.signal,
      startedAt,
      observer: report,
    });
    context.onEnd(() => session.dispose());
    await session.run();
  }
}

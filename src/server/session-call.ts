/**
 * The one send path of `Decode` and `Generate`: opens the stream's session from its `Start`, writes its
 * messages encoded (`ResponseEncoder`) with back-pressure (`ResponseWriter`), frees its decode state
 * however the call ends, and runs it to its end.
 */
import type { Writable } from 'node:stream';
import { inject, injectable } from 'tsyringe';
import type { DecodeRequest, Start } from '../gen/stepwise/v1/stepwise.js';
import type { CallContext } from './call-context.js';
import type { ClientMessages } from './client-messages.js';
import { RESPONSE_ENCODER } from '../tokens.js';
import type { ResponseEncoder } from './response-encoder.js';
import { ResponseWriter } from './response-writer.js';
import type { MalformedRequest } from './service-definition.js';
import { SessionFactory } from './session-factory.js';
import type { StartingRpc } from './start-request.js';

@injectable()
export class SessionCalls {
  constructor(
    @inject(SessionFactory) private readonly sessions: SessionFactory,
    @inject(RESPONSE_ENCODER) private readonly encoder: ResponseEncoder,
  ) {}

  /**
   * Runs the session of `start` on `call`. `messages`: the client's messages after `Start` (`Decode`);
   * undefined for `Generate`, which has none. `startedAt`: `performance.now()` when the call began.
   */
  async run(
    call: Writable,
    context: CallContext,
    rpc: StartingRpc,
    start: Start,
    messages: ClientMessages<DecodeRequest | MalformedRequest> | undefined,
    startedAt: number,
  ): Promise<void> {
    const writer = new ResponseWriter(call, context.signal);
    const session = await this.sessions.open(start, rpc, {
      send: (message) => writer.write(this.encoder.encode(message)),
      messages,
      signal: context.signal,
      startedAt,
    });
    context.onEnd(() => session.dispose());
    await session.run();
  }
}

/**
 * Reads a server stream of `Decode`/`Generate` messages as events, owning the call's end: a stream that is
 * left before its `Finished` message (a `break`, an exception in the loop, an abort) is cancelled, so the
 * server frees it at once.
 */
import type { Readable } from 'node:stream';
import { callFailure } from './call-options.js';
import type { DecodeEvent } from './decode-events.js';

/** A grpc-js call stream: readable messages, cancellable. */
export type CancellableStream = Readable & { cancel(): void };

export async function* readEventStream<Message>(
  rpc: string,
  call: CancellableStream,
  signal: AbortSignal | undefined,
  stopListening: () => void,
  toEvent: (message: Message) => DecodeEvent,
): AsyncGenerator<DecodeEvent, void, undefined> {
  let finished = false;
  try {
    for await (const message of call as AsyncIterable<Message>) {
      const event = toEvent(message);
      if (event.kind === 'finished') finished = true;
      yield event;
    }
    if (!finished) throw new Error(`the ${rpc} stream ended without a Finished message`);
  } catch (error) {
    throw callFailure(rpc, error, signal);
  } finally {
    stopListening();
    if (!finished) call.cancel();
  }
}

/**
 * grpc-js emits a failed status as an `'error'` event even after the reader has gone; without a listener
 * that event would crash the process. Errors still reach the reader through its own listener.
 */
export function keepErrorsInTheCall(call: Readable): void {
  call.on('error', () => {});
}

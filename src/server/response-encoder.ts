/**
 * How a stream's messages are encoded for the wire, as soon as they are written (a step message views
 * buffers that change at the next step). `DecodeResponse` and `GenerateResponse` number their messages
 * alike (`Generate` lacks only `Applied`, which a stream without client messages never sends), so one
 * encoding serves both RPCs.
 *
 * Two encoders: the generated one (`GeneratedResponseEncoder`), and one that writes the large per-step
 * logits message in one pass over reused memory (`EnvelopeResponseEncoder`, see `logits-envelope.ts` and
 * `envelope-buffers.ts`). The server uses the second; the benchmark compares them (bench/README.md).
 */
import { DecodeResponse } from '../gen/stepwise/v1/stepwise.js';
import { EnvelopeBuffers } from './envelope-buffers.js';
import { encodeLogitsEnvelope } from './logits-envelope.js';
import { encodeMessage } from './service-definition.js';
import type { SessionMessage } from './session-wire.js';

export interface ResponseEncoder {
  /** The message's bytes, as a `DecodeResponse` (a `GenerateResponse` reads the same). */
  encode(message: SessionMessage): Buffer;
  /** Called with every encoded response as grpc-js serializes it, just before it copies it into a frame. */
  serialized(encoded: Buffer): void;
}

/** Which `ResponseEncoder` a server uses (`ServerComposition.responseEncoding`). */
export type ResponseEncoding = 'envelope' | 'generated';

export function createResponseEncoder(encoding: ResponseEncoding): ResponseEncoder {
  return encoding === 'envelope' ? new EnvelopeResponseEncoder() : new GeneratedResponseEncoder();
}

/** Every message through the generated encoder. */
export class GeneratedResponseEncoder implements ResponseEncoder {
  encode(message: SessionMessage): Buffer {
    return encodeMessage(DecodeResponse, { message });
  }

  serialized(): void {}
}

/** Rows of raw logits in one pass over reused memory (this server's own), the rest as generated. */
export class EnvelopeResponseEncoder implements ResponseEncoder {
  readonly buffers = new EnvelopeBuffers();

  encode(message: SessionMessage): Buffer {
    return (message.$case === 'logits' ? encodeLogitsEnvelope(message.value, this.buffers) : undefined) ?? encodeMessage(DecodeResponse, { message });
  }

  serialized(encoded: Buffer): void {
    this.buffers.releaseAfterCopy(encoded);
  }
}

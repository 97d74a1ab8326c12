/**
 * The envelope encoder reuses a logits message's memory as soon as grpc-js has serialized it
 * (`envelope-buffers.ts`). That is only safe while grpc-js copies a serialized response into its own frame
 * before any microtask runs, and keeps no reference to the bytes it was given. This test holds grpc-js to
 * it, with a real grpc-js server and client on 127.0.0.1 and nothing of Stepwise but the encoder: many
 * envelopes written back to back to a client that reads slowly (so frames queue in HTTP/2 while their
 * memory is handed out again), and every message must arrive with exactly its own bytes.
 */
import { credentials, Server, ServerCredentials, type ServerWritableStream, type ServiceDefinition } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DecodeResponse } from '../../../src/gen/stepwise/v1/stepwise.js';
import { float32Tensor } from '../../../src/server/logits-encoding.js';
import { EnvelopeResponseEncoder } from '../../../src/server/response-encoder.js';

const MESSAGES = 400;
const WIDTH = 8_192;

/** The row of message `step`: every value says which message it belongs to. */
function rowOf(step: number): Float32Array {
  return Float32Array.from({ length: WIDTH }, (_, i) => step * 100_000 + i);
}

const encoder = new EnvelopeResponseEncoder();
/** The distinct memories the envelopes were written to. */
const memories = new Set<ArrayBufferLike>();
const definition: ServiceDefinition = {
  rows: {
    path: '/test.Envelopes/Rows',
    requestStream: false,
    responseStream: true,
    requestSerialize: (value: Buffer) => value,
    requestDeserialize: (bytes: Buffer) => bytes,
    // As the Stepwise server does: responses arrive encoded, and the encoder hears of each serialization.
    responseSerialize: (encoded: Buffer) => {
      encoder.serialized(encoded);
      return encoded;
    },
    responseDeserialize: (bytes: Buffer) => DecodeResponse.decode(bytes),
  },
};

let server: Server;
let address: string;
beforeAll(async () => {
  server = new Server();
  server.addService(definition, {
    rows: async (call: ServerWritableStream<Buffer, Buffer>) => {
      // No waiting for 'drain': frames pile up in HTTP/2 while their envelopes' memory is reused (a turn
      // of the event loop between writes lets each release reach the free list).
      for (let step = 0; step < MESSAGES; step++) {
        const encoded = encoder.encode({ $case: 'logits', value: { step, raw: float32Tensor(rowOf(step)), top: undefined, branch: 0 } });
        memories.add(encoded.buffer);
        call.write(encoded);
        await new Promise((resolve) => setImmediate(resolve));
      }
      call.end();
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
  );
  address = `127.0.0.1:${port}`;
});
afterAll(() => server?.forceShutdown());

describe('envelope memory over a real grpc-js stream', () => {
  it('every message arrives with its own row, though the memory of each was reused for the next', async () => {
    const { makeGenericClientConstructor } = await import('@grpc/grpc-js');
    const Client = makeGenericClientConstructor(definition, 'Envelopes');
    const client = new Client(address, credentials.createInsecure());
    const received: DecodeResponse[] = [];
    await new Promise<void>((resolve, reject) => {
      const call = (client as unknown as { rows(request: Buffer): NodeJS.ReadableStream }).rows(Buffer.alloc(0));
      call.on('data', (message: DecodeResponse) => {
        received.push(message);
        // A slow reader: every few messages, pause for a moment so the server's frames queue up.
        if (received.length % 25 === 0) {
          call.pause();
          setTimeout(() => call.resume(), 5);
        }
      });
      call.on('end', () => resolve());
      call.on('error', reject);
    });
    client.close();
    expect(received).toHaveLength(MESSAGES);
    received.forEach((message, step) => {
      expect(message.message?.$case).toBe('logits');
      if (message.message?.$case !== 'logits') return;
      expect(message.message.value.step).toBe(step);
      const data = message.message.value.raw!.data;
      const values = new Float32Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
      expect(values).toEqual(rowOf(step));
    });
    // The memory was indeed reused, many times over, while earlier frames were still queued (else the test
    // proves nothing). A message still queued in grpc-js is not serialized yet, so it keeps its memory.
    expect(memories.size).toBeLessThan(MESSAGES * 0.9);
  });
});

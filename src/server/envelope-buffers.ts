/**
 * Reusable memory for the large response envelopes (`logits-envelope.ts`).
 *
 * grpc-js copies every response into a frame of its own when it serializes it (`responseSerialize`, then
 * a copy behind a 5-byte header), so an envelope's bytes are needed only until that moment. Allocating a
 * fresh 128 KiB buffer per step made the serving thread's garbage collector run full mark-compacts of its
 * whole heap every few dozen steps (V8 schedules them by the volume of such off-heap allocations), and those
 * pauses landed on the streams' critical path. Here an envelope's memory goes back to a free list as soon
 * as grpc-js has copied it, and the next envelope of a similar size reuses it.
 *
 * A buffer that grpc-js never serializes (the call ended while the message waited in the stream's queue)
 * is simply never returned and is collected with the queue; the free list only ever holds idle buffers,
 * at most `MAX_FREE_BUFFERS` of them.
 */

/** Idle buffers kept for reuse: enough for every stream of a full batch to have one in flight. */
const MAX_FREE_BUFFERS = 64;

/** Idle memory (each a little larger than the envelope it last held). */
const free: ArrayBuffer[] = [];
/** Memory handed out and not yet copied by grpc-js. */
const inFlight = new WeakSet<ArrayBuffer>();

/** A buffer of exactly `size` bytes (contents undefined) over reused memory when some fits. */
export function takeEnvelopeBuffer(size: number): Buffer {
  const index = free.findIndex((memory) => memory.byteLength >= size && memory.byteLength <= size + 64);
  const memory = index === -1 ? new ArrayBuffer(size + 16) : free.splice(index, 1)[0]!;
  inFlight.add(memory);
  return Buffer.from(memory, 0, size);
}

/**
 * Called with every response grpc-js serializes: when it is an envelope buffer, its memory returns to the
 * free list right after grpc-js's synchronous copy (a microtask runs only once that copy is done).
 */
export function releaseAfterCopy(encoded: Buffer): void {
  const memory = encoded.buffer;
  if (!(memory instanceof ArrayBuffer) || !inFlight.has(memory)) return;
  inFlight.delete(memory);
  queueMicrotask(() => {
    if (free.length < MAX_FREE_BUFFERS) free.push(memory);
  });
}

/** Idle buffers held for reuse (tests read it). */
export function freeEnvelopeBuffers(): number {
  return free.length;
}

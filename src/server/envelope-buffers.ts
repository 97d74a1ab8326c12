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

/** Where a large field must lie in an envelope: byte `at` of it on the same 8-byte phase as `like`. */
export interface FieldAlignment {
  readonly at: number;
  /** A byte offset (the source's, in its own memory) whose remainder modulo 8 the field's start must share. */
  readonly like: number;
}

/** One server's envelope memory. */
export class EnvelopeBuffers {
  /** Idle memory (each a little larger than the envelope it last held). */
  private readonly free: ArrayBuffer[] = [];
  /** Memory handed out and not yet copied by grpc-js. */
  private readonly inFlight = new WeakSet<ArrayBuffer>();

  /**
   * A buffer of exactly `size` bytes (contents undefined) over reused memory when some fits. With `align`,
   * the buffer starts at the offset in its memory (0–7) that puts byte `align.at` on `align.like`'s 8-byte
   * phase: copying a row there from shared memory then runs word by word, where a copy between differently
   * aligned bytes of a `SharedArrayBuffer` goes byte by byte.
   */
  take(size: number, align?: FieldAlignment): Buffer {
    const index = this.free.findIndex((memory) => memory.byteLength >= size + 8 && memory.byteLength <= size + 64);
    const memory = index === -1 ? new ArrayBuffer(size + 16) : this.free.splice(index, 1)[0]!;
    this.inFlight.add(memory);
    const start = align === undefined ? 0 : (((align.like - align.at) % 8) + 8) % 8;
    return Buffer.from(memory, start, size);
  }

  /**
   * Called with every response grpc-js serializes: when it is an envelope buffer, its memory returns to the
   * free list right after grpc-js's synchronous copy (a microtask runs only once that copy is done).
   */
  releaseAfterCopy(encoded: Buffer): void {
    const memory = encoded.buffer;
    if (!(memory instanceof ArrayBuffer) || !this.inFlight.has(memory)) return;
    this.inFlight.delete(memory);
    queueMicrotask(() => {
      if (this.free.length < MAX_FREE_BUFFERS) this.free.push(memory);
    });
  }

  /** Idle buffers held for reuse (tests read it). */
  get idle(): number {
    return this.free.length;
  }
}

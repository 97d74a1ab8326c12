/**
 * Shared memory for logits rows: every decode state owns one slot of `rowLength` floats in a
 * `SharedArrayBuffer` that both threads see. After each step the model thread copies the state's row
 * into its slot (the only copy a row ever makes; ONNX Runtime cannot write into shared memory), and
 * the main thread hands out a `Float32Array` view of that slot: nothing is allocated, transferred or
 * collected per step on the thread that serves requests.
 *
 * A slot is overwritten by its state's next step, which is exactly how long the `ModelRuntime`
 * contract keeps a row valid; it is reused by another state after its own is disposed.
 *
 * Slots come in chunks of `SLOTS_PER_CHUNK`; the thread creates chunks as states need them and sends
 * each new chunk once, with the step that first writes to it.
 */

/** Slots per shared chunk: 16 t5-small rows are 2 MiB. */
export const SLOTS_PER_CHUNK = 16;

/** Where slot `slot` lies: chunk index and byte offset in it. */
export function slotPlace(slot: number, rowLength: number): { chunk: number; byteOffset: number } {
  return {
    chunk: Math.floor(slot / SLOTS_PER_CHUNK),
    byteOffset: (slot % SLOTS_PER_CHUNK) * rowLength * Float32Array.BYTES_PER_ELEMENT,
  };
}

/** The model thread's side: who owns which slot, and the chunks. */
export class RowSlotWriter {
  private readonly chunks: SharedArrayBuffer[] = [];
  private readonly slotOfState = new Map<number, number>();
  private readonly freeSlots: number[] = [];
  private slotCount = 0;

  constructor(private readonly rowLength: number) {}

  /**
   * Copies `row` into `stateId`'s slot (assigning one on the state's first row) and returns the slot,
   * with the chunk it lies in when that chunk is new.
   */
  write(stateId: number, row: Float32Array): { slot: number; newChunk: SharedArrayBuffer | undefined } {
    let slot = this.slotOfState.get(stateId);
    let newChunk: SharedArrayBuffer | undefined;
    if (slot === undefined) {
      slot = this.freeSlots.pop() ?? this.slotCount++;
      this.slotOfState.set(stateId, slot);
      const { chunk } = slotPlace(slot, this.rowLength);
      if (chunk === this.chunks.length) {
        newChunk = new SharedArrayBuffer(SLOTS_PER_CHUNK * this.rowLength * Float32Array.BYTES_PER_ELEMENT);
        this.chunks.push(newChunk);
      }
    }
    const { chunk, byteOffset } = slotPlace(slot, this.rowLength);
    new Float32Array(this.chunks[chunk]!, byteOffset, this.rowLength).set(row);
    return { slot, newChunk };
  }

  /** Frees a disposed state's slot for the next state that needs one. */
  release(stateId: number): void {
    const slot = this.slotOfState.get(stateId);
    if (slot === undefined) return;
    this.slotOfState.delete(stateId);
    this.freeSlots.push(slot);
  }
}

/** The main thread's side: one reusable view per slot over the chunks the thread sent. */
export class RowSlotReader {
  private readonly chunks: SharedArrayBuffer[] = [];
  private readonly views: Float32Array[] = [];

  constructor(private readonly rowLength: number) {}

  /** Records a chunk the thread created (chunks arrive in order). */
  addChunk(chunk: SharedArrayBuffer): void {
    this.chunks.push(chunk);
  }

  /** The row in `slot`, as a view of shared memory. */
  row(slot: number): Float32Array {
    let view = this.views[slot];
    if (view === undefined) {
      const { chunk, byteOffset } = slotPlace(slot, this.rowLength);
      view = new Float32Array(this.chunks[chunk]!, byteOffset, this.rowLength);
      this.views[slot] = view;
    }
    return view;
  }
}

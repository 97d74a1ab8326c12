/**
 * Shared memory for logits rows: every decode state owns two slots of `rowLength` floats in a
 * `SharedArrayBuffer` that both threads see. After each step the model thread copies the state's row
 * into one of its slots (the only copy a row ever makes; ONNX Runtime cannot write into shared memory),
 * and the main thread hands out a `Float32Array` view of that slot: nothing is allocated, transferred or
 * collected per step on the thread that serves requests.
 *
 * Steps alternate between the two slots, so a row stays untouched while the state's next step runs:
 * a stream can start step t + 1 as soon as it knows step t's token and still read row t (to score it and
 * stream it) meanwhile, which is what the `ModelRuntime` contract promises. Slots are reused by other
 * states after their own is disposed.
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
/** A state's two slots and which one its next row goes to. */
interface SlotPair {
  readonly slots: readonly [number, number];
  next: 0 | 1;
}

export class RowSlotWriter {
  private readonly chunks: SharedArrayBuffer[] = [];
  private readonly slotsOfState = new Map<number, SlotPair>();
  private readonly freeSlots: number[] = [];
  private slotCount = 0;

  constructor(private readonly rowLength: number) {}

  /**
   * Copies `row` into the slot of `stateId` that its previous row does not occupy (assigning the state
   * two slots on its first row) and returns that slot, with the chunks created for it, if any.
   */
  write(stateId: number, row: Float32Array): { slot: number; newChunks: SharedArrayBuffer[] } {
    let pair = this.slotsOfState.get(stateId);
    const newChunks: SharedArrayBuffer[] = [];
    if (pair === undefined) {
      pair = { slots: [this.takeSlot(newChunks), this.takeSlot(newChunks)], next: 0 };
      this.slotsOfState.set(stateId, pair);
    }
    const slot = pair.slots[pair.next];
    pair.next = pair.next === 0 ? 1 : 0;
    const { chunk, byteOffset } = slotPlace(slot, this.rowLength);
    new Float32Array(this.chunks[chunk]!, byteOffset, this.rowLength).set(row);
    return { slot, newChunks };
  }

  /** Frees a disposed state's slots for the next states that need them. */
  release(stateId: number): void {
    const pair = this.slotsOfState.get(stateId);
    if (pair === undefined) return;
    this.slotsOfState.delete(stateId);
    this.freeSlots.push(...pair.slots);
  }

  /** A free slot, creating the chunk it lies in (added to `newChunks`) when there is none. */
  private takeSlot(newChunks: SharedArrayBuffer[]): number {
    const reused = this.freeSlots.pop();
    if (reused !== undefined) return reused;
    const slot = this.slotCount++;
    if (slotPlace(slot, this.rowLength).chunk === this.chunks.length) {
      const chunk = new SharedArrayBuffer(SLOTS_PER_CHUNK * this.rowLength * Float32Array.BYTES_PER_ELEMENT);
      this.chunks.push(chunk);
      newChunks.push(chunk);
    }
    return slot;
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

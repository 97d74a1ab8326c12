/**
 * The three wire forms of a logits row (see `LogitsFormat` in the proto), each computed in one pass over
 * the row without copying it:
 *
 * - float32: the bytes of the row itself (a `Buffer` over the row's memory; the message is encoded before
 *   the row changes, see `service-definition.ts`);
 * - float16: rounded to nearest-even into a per-stream scratch array reused at every step;
 * - top-k: a bounded min-heap over the row (O(V log k)), never a sorted copy of the vocabulary.
 *
 * Tensors are little-endian on the wire; a typed-array view has the platform's byte order, so a big-endian
 * host is refused once, here, rather than sending wrong bytes.
 */
import { endianness } from 'node:os';
import { DataType, type Tensor, type TopLogits } from '../gen/stepwise/v1/stepwise.js';
import { float16BitsOfFloat32Bits } from '../numeric/index.js';

if (endianness() !== 'LE') {
  throw new Error('Stepwise sends tensors as little-endian typed-array bytes; this host is big-endian');
}

/** The row as a float32 tensor whose bytes are the row's own memory. */
export function float32Tensor(row: Float32Array): Tensor {
  return {
    dtype: DataType.DATA_TYPE_FLOAT32,
    shape: [row.length],
    data: Buffer.from(row.buffer, row.byteOffset, row.byteLength),
  };
}

/** The row as a float16 tensor written into `scratch` (at least `row.length` long, reused per stream). */
export function float16Tensor(row: Float32Array, scratch: Uint16Array): Tensor {
  const bits = new Uint32Array(row.buffer, row.byteOffset, row.length);
  for (let i = 0; i < bits.length; i++) scratch[i] = float16BitsOfFloat32Bits(bits[i]!);
  return {
    dtype: DataType.DATA_TYPE_FLOAT16,
    shape: [row.length],
    data: Buffer.from(scratch.buffer, scratch.byteOffset, row.length * 2),
  };
}

/** The k largest entries of a row, largest first; equal values keep the lower id first. */
export interface TopEntries {
  readonly ids: Uint32Array;
  readonly values: Float32Array;
}

/** Selects the `k` largest entries of `row` with a bounded min-heap; NaN counts as -Infinity. */
export function selectTopK(row: Float32Array, k: number): TopEntries {
  const size = Math.min(k, row.length);
  const heapIds = new Uint32Array(size);
  const heapValues = new Float64Array(size);
  let count = 0;
  for (let id = 0; id < row.length; id++) {
    const raw = row[id]!;
    const value = raw === raw ? raw : -Infinity;
    if (count < size) {
      heapIds[count] = id;
      heapValues[count] = value;
      siftUp(heapIds, heapValues, count);
      count++;
    } else if (size > 0 && value > heapValues[0]!) {
      // Later ids lose ties (strict `>`), so equal values keep the lower id, as argmax does.
      heapIds[0] = id;
      heapValues[0] = value;
      siftDown(heapIds, heapValues, size);
    }
  }
  const order = Array.from({ length: count }, (_, i) => i).sort(
    (a, b) => heapValues[b]! - heapValues[a]! || heapIds[a]! - heapIds[b]!,
  );
  const ids = new Uint32Array(count);
  const values = new Float32Array(count);
  order.forEach((slot, rank) => {
    ids[rank] = heapIds[slot]!;
    values[rank] = row[heapIds[slot]!]!;
  });
  return { ids, values };
}

/** The heap keeps its weakest entry on top: the lowest value, and among equal values the highest id. */
function weaker(ids: Uint32Array, values: Float64Array, a: number, b: number): boolean {
  return values[a]! < values[b]! || (values[a] === values[b] && ids[a]! > ids[b]!);
}

function swap(ids: Uint32Array, values: Float64Array, a: number, b: number): void {
  const id = ids[a]!;
  ids[a] = ids[b]!;
  ids[b] = id;
  const value = values[a]!;
  values[a] = values[b]!;
  values[b] = value;
}

function siftUp(ids: Uint32Array, values: Float64Array, index: number): void {
  let child = index;
  while (child > 0) {
    const parent = (child - 1) >> 1;
    if (!weaker(ids, values, child, parent)) return;
    swap(ids, values, child, parent);
    child = parent;
  }
}

function siftDown(ids: Uint32Array, values: Float64Array, size: number): void {
  let parent = 0;
  for (;;) {
    const left = 2 * parent + 1;
    if (left >= size) return;
    const right = left + 1;
    const weakest = right < size && weaker(ids, values, right, left) ? right : left;
    if (!weaker(ids, values, weakest, parent)) return;
    swap(ids, values, weakest, parent);
    parent = weakest;
  }
}

/** The top-k wire form of a row. */
export function topLogits(row: Float32Array, k: number): TopLogits {
  const { ids, values } = selectTopK(row, k);
  return { tokenIds: Array.from(ids), logits: Array.from(values) };
}

/**
 * The batch tensors of one decoder run and the rows each sequence holds in them.
 *
 * A sequence does not own `[1, …]` copies of its tensors: it holds a `BatchSlot`, the batch tensors of
 * the run that produced them and its row there. When the same sequences run together again, in the
 * same order, the batch tensors go back to ONNX Runtime as they are (`sameBatch`): a stable batch steps
 * without copying anything. Only a new grouping copies the rows into fresh batch tensors
 * (`stackRows`), padding along one axis where lengths differ.
 */
import { Tensor } from 'onnxruntime-node';

/**
 * Element types the runtime batches: activations and caches (float32, or float16 as 16-bit patterns in a
 * `Uint16Array` from files whose inputs and outputs are float16), masks (int64). Rows are only copied,
 * never computed on, so float16 needs no conversion here.
 */
type BatchedArray = Float32Array | Uint16Array | BigInt64Array;

/** Row `row` of `tensors`, which all have the batch size on axis 0. */
export interface BatchSlot {
  readonly tensors: readonly Tensor[];
  readonly row: number;
}

/** The slots' batch tensors when the slots are rows 0…B-1 of one batch of size B, in order. */
export function sameBatch(slots: readonly (BatchSlot | undefined)[]): readonly Tensor[] | undefined {
  const tensors = slots[0]?.tensors;
  if (tensors === undefined || tensors[0]!.dims[0] !== slots.length) return undefined;
  for (let row = 0; row < slots.length; row++) {
    const slot = slots[row];
    if (slot === undefined || slot.tensors !== tensors || slot.row !== row) return undefined;
  }
  return tensors;
}

/** Row `row` of a `[B, …]` tensor as a `[1, …]` tensor viewing the same memory (the tensor itself when B = 1). */
export function rowOf(batch: Tensor, row: number): Tensor {
  const [batchSize, ...rest] = batch.dims;
  if (batchSize === 1) return batch;
  const rowLength = product(rest);
  const data = (batch.data as BatchedArray).subarray(row * rowLength, (row + 1) * rowLength);
  return tensorOf(batch.type, data, [1, ...rest]);
}

/** Row `row` of a `[B, …]` tensor copied into a `[1, …]` tensor of its own. */
export function copyRow(batch: Tensor, row: number): Tensor {
  const view = rowOf(batch, row);
  return tensorOf(view.type, (view.data as BatchedArray).slice(), view.dims);
}

/**
 * Copies `[1, …]` rows into one new `[B, …]` tensor whose axis `axis` has length `length`: each row
 * keeps its first `min(rowLength, length)` entries along that axis and the rest stays zero (for masks,
 * zero means "masked"; for activations and caches, zeros that the mask hides).
 */
export function stackRows(rows: readonly Tensor[], axis: number, length: number): Tensor {
  const first = rows[0]!;
  const dims = [rows.length, ...first.dims.slice(1)];
  dims[axis] = length;
  const rowLength = product(dims.slice(1));
  const outer = product(dims.slice(1, axis)); // blocks before the padded axis, per row
  const inner = product(dims.slice(axis + 1)); // values after it
  const sample = first.data as BatchedArray;
  const stacked = new (sample.constructor as new (length: number) => BatchedArray)(rows.length * rowLength);
  rows.forEach((row, index) => {
    const source = row.data as BatchedArray;
    const sourceLength = row.dims[axis]!;
    const kept = Math.min(sourceLength, length) * inner;
    for (let block = 0; block < outer; block++) {
      const from = block * sourceLength * inner;
      (stacked as Float32Array).set((source as Float32Array).subarray(from, from + kept), index * rowLength + block * length * inner);
    }
  });
  return tensorOf(first.type, stacked, dims);
}

/** A copy of a `[1, …]` tensor cut to its first `length` entries along `axis` (e.g. a KV cache rewound). */
export function truncateAxis(row: Tensor, axis: number, length: number): Tensor {
  if (length > row.dims[axis]!) {
    throw new RangeError(`cannot cut axis ${axis} of [${row.dims.join(', ')}] to length ${length}`);
  }
  return stackRows([row], axis, length);
}

function product(values: readonly number[]): number {
  let result = 1;
  for (const value of values) result *= value;
  return result;
}

function tensorOf(type: Tensor.Type, data: BatchedArray, dims: readonly number[]): Tensor {
  return new Tensor(type as 'float32', data as Float32Array, dims);
}

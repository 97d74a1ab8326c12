/**
 * Batching and slicing of CPU tensors along the batch axis, without copies where the memory allows.
 *
 * Each sequence keeps its tensors as `[1, …]` rows. A row that came out of a batched run is a view
 * into that run's output buffer, so when the same sequences run together again their rows lie side by
 * side in one buffer and `stackRows` hands ONNX Runtime that buffer as it is (a view, no copy). Only a
 * new grouping, or padding to a new length, copies.
 */
import { Tensor } from 'onnxruntime-node';

/** Element types the runtime batches: activations and caches (float32), masks and ids (int64). */
export type BatchedArray = Float32Array | BigInt64Array;

/** `[1, …]` tensor of float32 or int64 values on the CPU. */
export type RowTensor = Tensor & { readonly data: BatchedArray };

function product(values: readonly number[], from: number, to = values.length): number {
  let result = 1;
  for (let i = from; i < to; i++) result *= values[i]!;
  return result;
}

function allocateLike(sample: BatchedArray, length: number): BatchedArray {
  return sample instanceof Float32Array ? new Float32Array(length) : new BigInt64Array(length);
}

function tensorOf(data: BatchedArray, dims: readonly number[]): Tensor {
  return data instanceof Float32Array ? new Tensor('float32', data, dims) : new Tensor('int64', data, dims);
}

/** The tensor's values as a typed array (CPU tensors only). */
export function dataOf(tensor: Tensor): BatchedArray {
  return tensor.data as BatchedArray;
}

/**
 * Splits a `[B, …]` tensor into B `[1, …]` tensors that view its buffer (no copy). The views stay
 * valid as long as any of them is referenced: the buffer belongs to no one else.
 */
export function rowViews(batch: Tensor): Tensor[] {
  const data = dataOf(batch);
  const [batchSize, ...rest] = batch.dims;
  const rowLength = product(rest, 0);
  const dims = [1, ...rest];
  if (batchSize === 1) return [batch];
  return Array.from({ length: batchSize! }, (_, row) =>
    tensorOf(data.subarray(row * rowLength, (row + 1) * rowLength), dims),
  );
}

/**
 * Stacks `[1, …]` rows into one `[B, …]` tensor whose axis `axis` has length `length`: each row keeps
 * its first `min(rowLength, length)` entries along that axis and the rest is zero (for masks, zero
 * means "masked"; for activations and caches, zeros that the mask hides).
 *
 * When every row already has that length and the rows are exactly the views `rowViews` made of one
 * batch, in order and all of them, the result is that batch again: nothing is copied (`copied` is
 * false). Rows that view only part of a buffer are copied, so that a sequence which leaves its batch
 * stops pinning the other sequences' memory after one step.
 */
export function stackRows(rows: readonly Tensor[], axis: number, length: number): { tensor: Tensor; copied: boolean } {
  const first = rows[0]!;
  const dims = [rows.length, ...first.dims.slice(1)];
  dims[axis] = length;
  const rowLength = product(dims, 1);
  const whole = wholeBufferView(rows, rowLength, axis, length);
  if (whole !== undefined) {
    return { tensor: rows.length === 1 ? first : tensorOf(whole, dims), copied: false };
  }

  const stacked = allocateLike(dataOf(first), rows.length * rowLength);
  const outer = product(dims, 1, axis); // blocks before the padded axis, per row
  const inner = product(dims, axis + 1); // values after it
  rows.forEach((row, index) => {
    const source = dataOf(row);
    const sourceLength = row.dims[axis]!;
    const kept = Math.min(sourceLength, length) * inner;
    for (let block = 0; block < outer; block++) {
      const from = block * sourceLength * inner;
      const to = index * rowLength + block * length * inner;
      copyInto(stacked, to, source, from, kept);
    }
  });
  return { tensor: tensorOf(stacked, dims), copied: true };
}

/** A view over the rows' buffer when they are contiguous, equally long, in order and fill it entirely. */
function wholeBufferView(rows: readonly Tensor[], rowLength: number, axis: number, length: number): BatchedArray | undefined {
  const first = dataOf(rows[0]!);
  const bytes = first.BYTES_PER_ELEMENT;
  const total = rows.length * rowLength;
  if (first.byteOffset !== 0 || first.buffer.byteLength !== total * bytes) return undefined;
  for (let index = 0; index < rows.length; index++) {
    const data = dataOf(rows[index]!);
    if (
      rows[index]!.dims[axis] !== length ||
      data.length !== rowLength ||
      data.buffer !== first.buffer ||
      data.byteOffset !== index * rowLength * bytes ||
      data.constructor !== first.constructor
    ) {
      return undefined;
    }
  }
  return first instanceof Float32Array ? new Float32Array(first.buffer, 0, total) : new BigInt64Array(first.buffer, 0, total);
}

function copyInto(target: BatchedArray, to: number, source: BatchedArray, from: number, count: number): void {
  (target as Float32Array).set((source as Float32Array).subarray(from, from + count), to);
}

/** A copy of a `[1, …]` tensor cut to its first `length` entries along `axis` (e.g. a KV cache rewound). */
export function truncateAxis(row: Tensor, axis: number, length: number): Tensor {
  if (length > row.dims[axis]!) {
    throw new RangeError(`cannot cut axis ${axis} of [${row.dims.join(', ')}] to length ${length}`);
  }
  return stackRows([row], axis, length).tensor;
}

/** An int64 `[rows, columns]` tensor from plain numbers. */
export function int64Matrix(values: readonly number[], rows: number, columns: number): Tensor {
  const data = new BigInt64Array(values.length);
  for (let i = 0; i < values.length; i++) data[i] = BigInt(values[i]!);
  return new Tensor('int64', data, [rows, columns]);
}

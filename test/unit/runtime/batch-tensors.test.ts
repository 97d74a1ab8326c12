/** Batch slots: an unchanged batch is reused as it is; a new grouping copies rows, padding with zeros. */
import { Tensor } from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';

import { rowOf, sameBatch, stackRows, truncateAxis, type BatchSlot } from '../../../src/runtime/batch-tensors.js';

/** A `[B, 2, L, 1]` float tensor whose values encode (row, head, position). */
function kvBatch(batchSize: number, length: number): Tensor {
  const data = new Float32Array(batchSize * 2 * length);
  for (let b = 0; b < batchSize; b++)
    for (let h = 0; h < 2; h++) for (let p = 0; p < length; p++) data[(b * 2 + h) * length + p] = 100 * b + 10 * h + p + 1;
  return new Tensor('float32', data, [batchSize, 2, length, 1]);
}

const values = (tensor: Tensor) => Array.from(tensor.data as Float32Array);

describe('sameBatch', () => {
  const tensors = [kvBatch(3, 2)];
  const slots: BatchSlot[] = [0, 1, 2].map((row) => ({ tensors, row }));

  it('gives back the batch tensors for all of its rows in order', () => {
    expect(sameBatch(slots)).toBe(tensors);
  });

  it('refuses a reordering, a subset, a mix of batches or a missing slot', () => {
    expect(sameBatch([slots[1]!, slots[0]!, slots[2]!])).toBeUndefined();
    expect(sameBatch(slots.slice(0, 2))).toBeUndefined();
    expect(sameBatch([slots[0]!, slots[1]!, { tensors: [kvBatch(3, 2)], row: 2 }])).toBeUndefined();
    expect(sameBatch([slots[0]!, slots[1]!, undefined])).toBeUndefined();
  });
});

describe('rowOf', () => {
  it('views one row of a batch without copying', () => {
    const batch = kvBatch(3, 2);
    const row = rowOf(batch, 1);
    expect(row.dims).toEqual([1, 2, 2, 1]);
    expect(values(row)).toEqual([101, 102, 111, 112]);
    expect((row.data as Float32Array).buffer).toBe((batch.data as Float32Array).buffer);
  });

  it('is the tensor itself for a batch of one', () => {
    const batch = kvBatch(1, 2);
    expect(rowOf(batch, 0)).toBe(batch);
  });
});

describe('stackRows', () => {
  it('copies rows in the order given', () => {
    const batch = kvBatch(3, 2);
    const stacked = stackRows([rowOf(batch, 2), rowOf(batch, 0)], 2, 2);
    expect(stacked.dims).toEqual([2, 2, 2, 1]);
    expect(values(stacked)).toEqual([201, 202, 211, 212, 1, 2, 11, 12]);
  });

  it('pads shorter rows with zeros along the given axis and cuts longer ones', () => {
    const stacked = stackRows([kvBatch(1, 2), kvBatch(1, 4)], 2, 3);
    expect(stacked.dims).toEqual([2, 2, 3, 1]);
    expect(values(stacked)).toEqual([1, 2, 0, 11, 12, 0, 1, 2, 3, 11, 12, 13]);
  });

  it('pads int64 masks with zeros (masked)', () => {
    const mask = (length: number) => new Tensor('int64', new BigInt64Array(length).fill(1n), [1, length]);
    const stacked = stackRows([mask(1), mask(3)], 1, 3);
    expect(Array.from(stacked.data as BigInt64Array)).toEqual([1n, 0n, 0n, 1n, 1n, 1n]);
  });
});

describe('truncateAxis', () => {
  it('keeps the first positions of every head', () => {
    const cut = truncateAxis(kvBatch(1, 4), 2, 2);
    expect(cut.dims).toEqual([1, 2, 2, 1]);
    expect(values(cut)).toEqual([1, 2, 11, 12]);
  });

  it('refuses to lengthen', () => {
    expect(() => truncateAxis(kvBatch(1, 2), 2, 3)).toThrow('cannot cut axis 2 of [1, 2, 2, 1] to length 3');
  });
});

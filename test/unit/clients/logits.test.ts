import { describe, expect, it } from 'vitest';
import { entropyOf, float16ToFloat32, logSumExp, probabilityOf, rawLogitsOf, tensorToFloat32, topKIds } from '../../../clients/ts/logits.js';
import { DataType } from '../../../clients/ts/proto.js';

function float32Tensor(values: number[], shape = [values.length]) {
  return { dtype: DataType.DATA_TYPE_FLOAT32, shape, data: Buffer.from(Float32Array.from(values).buffer) };
}

describe('raw logits', () => {
  it('reads a float32 tensor as a view over the received bytes, without copying', () => {
    const tensor = float32Tensor([1.5, -2, 3]);
    const row = tensorToFloat32(tensor);
    expect([...row]).toEqual([1.5, -2, 3]);
    expect(row.buffer).toBe(tensor.data.buffer);
    expect(row.byteOffset).toBe(tensor.data.byteOffset);
  });

  it('copies a float32 tensor only when its bytes are not 4-byte aligned', () => {
    const backing = Buffer.alloc(13);
    Buffer.from(Float32Array.of(7, 8, 9).buffer).copy(backing, 1);
    const row = tensorToFloat32({ dtype: DataType.DATA_TYPE_FLOAT32, shape: [3], data: backing.subarray(1) });
    expect([...row]).toEqual([7, 8, 9]);
  });

  it('decodes float16 values, subnormals, infinities and NaN', () => {
    const halves = Uint16Array.of(0x3c00, 0xc000, 0x3555, 0x0001, 0x7c00, 0xfc00, 0x7e00, 0x8000);
    const row = float16ToFloat32(new Uint8Array(halves.buffer));
    expect(row[0]).toBe(1);
    expect(row[1]).toBe(-2);
    expect(row[2]).toBeCloseTo(1 / 3, 3);
    expect(row[3]).toBe(2 ** -24);
    expect(row[4]).toBe(Infinity);
    expect(row[5]).toBe(-Infinity);
    expect(row[6]).toBeNaN();
    expect(Object.is(row[7], -0)).toBe(true);
  });

  it('rejects a tensor whose byte count does not match its shape, naming both', () => {
    expect(() => tensorToFloat32(float32Tensor([1, 2, 3], [4]))).toThrow('float32 tensor of shape [4] needs 16 bytes; given 12');
  });

  it('has no dense row when the step carries only its top-k logits', () => {
    expect(rawLogitsOf({ step: 0, raw: undefined, top: { tokenIds: [3], logits: [1] }, branch: 0 })).toBeUndefined();
  });
});

describe('row statistics', () => {
  const row = Float32Array.of(2, 1, 0.5, -1, 2);
  const exps = [...row].map(Math.exp);
  const total = exps.reduce((a, b) => a + b, 0);

  it('computes softmax probabilities that match the definition and sum to one', () => {
    const lse = logSumExp(row);
    expect(probabilityOf(row, 0, lse)).toBeCloseTo(exps[0]! / total, 12);
    const sum = [...row.keys()].reduce((acc, id) => acc + probabilityOf(row, id, lse), 0);
    expect(sum).toBeCloseTo(1, 12);
  });

  it('stays finite for logits far beyond exp range', () => {
    const large = Float32Array.of(1000, 999);
    expect(probabilityOf(large, 0)).toBeCloseTo(1 / (1 + Math.exp(-1)), 9);
  });

  it('computes the entropy in nats, ignoring tokens of probability zero', () => {
    const expected = -exps.reduce((acc, e) => acc + (e / total) * Math.log(e / total), 0);
    expect(entropyOf(row)).toBeCloseTo(expected, 12);
    expect(entropyOf(Float32Array.of(0, -Infinity, 0))).toBeCloseTo(Math.log(2), 12);
  });

  it('lists the k highest ids highest first, the lower id first on ties', () => {
    expect(topKIds(row, 3)).toEqual([0, 4, 1]);
    expect(topKIds(row, 10)).toEqual([0, 4, 1, 2, 3]);
    expect(topKIds(Float32Array.of(NaN, 1, 3), 2)).toEqual([2, 1]);
  });
});

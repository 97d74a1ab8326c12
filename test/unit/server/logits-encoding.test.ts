import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DataType } from '../../../src/gen/stepwise/v1/stepwise.js';
import { float16Tensor, float32Tensor, selectTopK, topLogits } from '../../../src/server/logits-encoding.js';

describe('float32 tensor', () => {
  it('shares the row memory: its bytes are the row as little-endian float32', () => {
    const backing = new Float32Array([9, 1.5, -2.25, 3e-8, 7]);
    const row = backing.subarray(1, 4);
    const tensor = float32Tensor(row);
    expect(tensor.dtype).toBe(DataType.DATA_TYPE_FLOAT32);
    expect(tensor.shape).toEqual([3]);
    expect(tensor.data.buffer).toBe(backing.buffer);
    const view = new DataView(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
    expect([0, 1, 2].map((i) => view.getFloat32(i * 4, true))).toEqual(Array.from(row));
  });
});

describe('float16 tensor', () => {
  it('writes the tensor into the reusable scratch array', () => {
    const row = new Float32Array([1, -2, 0.5]);
    const scratch = new Uint16Array(3);
    const tensor = float16Tensor(row, scratch);
    expect(tensor.dtype).toBe(DataType.DATA_TYPE_FLOAT16);
    expect(tensor.data.buffer).toBe(scratch.buffer);
    expect(Array.from(scratch)).toEqual([0x3c00, 0xc000, 0x3800]);
  });
});

describe('top-k', () => {
  it('equals the k largest entries of a full sort, ties to the lower id', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: -20, max: 20 }), { minLength: 1, maxLength: 200 }),
        fc.integer({ min: 1, max: 250 }),
        (values, k) => {
          const row = Float32Array.from(values, (v) => v / 4);
          const expected = Array.from(row.keys())
            .sort((a, b) => row[b]! - row[a]! || a - b)
            .slice(0, k);
          const { ids, values: top } = selectTopK(row, k);
          expect(Array.from(ids)).toEqual(expected);
          expect(Array.from(top)).toEqual(expected.map((id) => row[id]!));
        },
      ),
    );
  });

  it('ranks NaN as -Infinity, below every number', () => {
    const { ids } = selectTopK(new Float32Array([NaN, -5, NaN, -1e30]), 2);
    expect(Array.from(ids)).toEqual([1, 3]);
  });

  it('the wire form lists ids and logits highest first', () => {
    expect(topLogits(new Float32Array([0.5, 3, -1, 3]), 3)).toEqual({ tokenIds: [1, 3, 0], logits: [3, 3, 0.5] });
  });
});

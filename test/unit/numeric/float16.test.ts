/** IEEE 754 binary16 rounding and widening (`src/numeric/float16.ts`), checked against every pattern. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { float16Value as float16BitsToNumber, float16BitsOfFloat32Bits as float32BitsToFloat16 } from '../../../src/numeric/index.js';

const bitsOf = (value: number): number => new Uint32Array(new Float32Array([value]).buffer)[0]!;

/** The float16 nearest to `value` (ties to even), by exhaustive search over the 63,488 finite halves. */
function nearestHalfByScan(value: number): number {
  let best = 0;
  let bestDistance = Infinity;
  for (let half = 0; half < 0x10000; half++) {
    const candidate = float16BitsToNumber(half);
    if (!Number.isFinite(candidate) || Object.is(candidate, -0)) continue;
    const distance = Math.abs(candidate - value);
    if (distance < bestDistance || (distance === bestDistance && (half & 1) === 0)) {
      best = half;
      bestDistance = distance;
    }
  }
  return best;
}

describe('float16 conversion', () => {
  it('every float16 value converts back to itself', () => {
    for (let half = 0; half < 0x10000; half++) {
      const value = float16BitsToNumber(half);
      if (Number.isNaN(value)) {
        expect(float32BitsToFloat16(bitsOf(value)) & 0x7c00).toBe(0x7c00);
        continue;
      }
      expect(float32BitsToFloat16(bitsOf(value))).toBe(half);
    }
  });

  it('rounds to the nearest float16, ties to even', () => {
    const finiteHalfRange = fc.float({ min: -65504, max: 65504, noNaN: true, noDefaultInfinity: true });
    fc.assert(
      fc.property(finiteHalfRange, (value) => {
        const rounded = float16BitsToNumber(float32BitsToFloat16(bitsOf(value)));
        const expected = float16BitsToNumber(nearestHalfByScan(Math.fround(value)));
        expect(Math.abs(rounded)).toBe(Math.abs(expected));
      }),
      { numRuns: 200 },
    );
  });

  it('halfway cases go to the even neighbour', () => {
    // 1 + 2^-11 lies halfway between 1 and 1 + 2^-10; 1 + 3·2^-11 halfway between 1 + 2^-10 and 1 + 2^-9.
    expect(float32BitsToFloat16(bitsOf(1 + 2 ** -11))).toBe(0x3c00);
    expect(float32BitsToFloat16(bitsOf(1 + 3 * 2 ** -11))).toBe(0x3c02);
  });

  it('overflows to infinity, underflows through subnormals to signed zero, keeps NaN', () => {
    expect(float32BitsToFloat16(bitsOf(70000))).toBe(0x7c00);
    expect(float32BitsToFloat16(bitsOf(-Infinity))).toBe(0xfc00);
    expect(float32BitsToFloat16(bitsOf(2 ** -24))).toBe(0x0001);
    expect(float32BitsToFloat16(bitsOf(2 ** -26))).toBe(0x0000);
    expect(float32BitsToFloat16(bitsOf(-(2 ** -26)))).toBe(0x8000);
    expect(Number.isNaN(float16BitsToNumber(float32BitsToFloat16(bitsOf(NaN))))).toBe(true);
  });
});

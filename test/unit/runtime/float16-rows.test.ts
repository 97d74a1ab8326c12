/**
 * A float16 logits row is widened to float32 once, by table; widening is exact, so the server's FLOAT16
 * encoding of the widened row gives back the model's own bits: a FLOAT16 stream of a float16 model
 * carries its output untouched.
 */
import { describe, expect, it } from 'vitest';
import { float16BitsOf, float16Value, narrowToFloat16, widenFloat16 } from '../../../src/numeric/float16.js';
import { float16BitsOfFloat32Bits as float32BitsToFloat16 } from '../../../src/numeric/index.js';

const everyPattern = Uint16Array.from({ length: 0x10000 }, (_, i) => i);
const isNaNPattern = (half: number) => (half & 0x7c00) === 0x7c00 && (half & 0x3ff) !== 0;

describe('float16 rows', () => {
  it('widening gives the exact value of every one of the 65,536 patterns', () => {
    const widened = widenFloat16(everyPattern);
    for (let half = 0; half < 0x10000; half++) {
      if (isNaNPattern(half)) expect(widened[half]).toBeNaN();
      else expect(widened[half]).toBe(float16Value(half));
    }
  });

  it('narrowing a widened row gives back every pattern but NaN payloads, here and in the server\'s FLOAT16 encoder', () => {
    const widened = widenFloat16(everyPattern);
    const narrowed = narrowToFloat16(widened);
    const bits = new Uint32Array(widened.buffer);
    for (let half = 0; half < 0x10000; half++) {
      if (isNaNPattern(half)) continue;
      expect(narrowed[half]).toBe(half);
      expect(float32BitsToFloat16(bits[half]!)).toBe(half);
    }
  });

  it('narrowing rounds to nearest, ties to even, and overflows to infinity', () => {
    expect(float16BitsOf(1 + 2 ** -11)).toBe(0x3c00); // tie between 1 and 1 + 2^-10: even (1)
    expect(float16BitsOf(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(float16BitsOf(65520)).toBe(0x7c00);
    expect(float16BitsOf(-0)).toBe(0x8000);
  });
});

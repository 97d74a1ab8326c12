/**
 * The WebAssembly SIMD kernel against a float64 `Math.exp` reference: random rows at several scales and
 * lengths (every tail length, a t5-small row, a long row), non-finite entries, extreme magnitudes,
 * underflowing weights, and one instance reused across rows of different lengths (its memory grows).
 * `summarize` against the selection code's own `finiteMaximum`, bit for bit, and against `sums` with that maximum.
 * `argmax` and `summarizeWithArgmax` against the JavaScript loop, id for id, and against `summarize`.
 */
import { describe, expect, it } from 'vitest';
import { expSumsKernel, type ExpSumsKernel } from '../../../src/numeric/exp-sums-kernel.js';
import { SeededRandom } from '../../../src/builder/prng.js';
import { argmaxOfFiniteLoop } from '../../../src/numeric/argmax.js';
import { finiteMaximum } from '../../../src/processors/selection/finite.js';

const SUM_TOLERANCE = 2e-6;
const MEAN_SHIFT_TOLERANCE = 2e-6;
const TAIL_LENGTHS = Array.from({ length: 17 }, (_, i) => i + 1);
const LONG_LENGTHS = [32_128, 250_000];

/** Σ exp(z − max) and Σ exp(z − max)·(z − max) in float64 over the finite entries, as the JS loop does. */
function referenceSums(row: Float32Array, max: number): { sum: number; weighted: number } {
  let sum = 0;
  let weighted = 0;
  for (const score of row) {
    if (!Number.isFinite(score)) continue;
    const shift = score - max;
    const weight = Math.exp(shift);
    sum += weight;
    if (weight > 0) weighted += weight * shift;
  }
  return { sum, weighted };
}

/** A seeded uniform generator on (0, 1) (the builder's mulberry32). */
function uniformSource(seed: number): () => number {
  const random = new SeededRandom(seed);
  return () => random.uniform();
}

/** Gaussian-like scores times `scale` (Box-Muller). */
function randomRow(length: number, scale: number, seed: number): Float32Array {
  const uniform = uniformSource(seed);
  const row = new Float32Array(length);
  for (let i = 0; i < length; i++) {
    row[i] = scale * Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
  }
  return row;
}

function requireKernel(): ExpSumsKernel {
  const kernel = expSumsKernel();
  if (kernel === undefined) throw new Error('WebAssembly SIMD is expected on Node.js 20');
  return kernel;
}

/** Runs the kernel on `row` and checks both sums against the reference within the stated bounds. */
function expectAccurate(kernel: ExpSumsKernel, row: Float32Array, max = finiteMaximum(row)): void {
  const out = new Float64Array(2);
  kernel.sums(row, max, out);
  const [sum, weighted] = out as unknown as [number, number];
  const reference = referenceSums(row, max);
  expect(Number.isNaN(sum) || Number.isNaN(weighted)).toBe(false);
  const sumError = Math.abs(sum - reference.sum) / reference.sum;
  const referenceMeanShift = reference.weighted / reference.sum;
  const meanShiftError = Math.abs(weighted / sum - referenceMeanShift);
  expect(sumError, `sum of a ${row.length}-wide row`).toBeLessThanOrEqual(SUM_TOLERANCE);
  expect(meanShiftError, `weighted / sum of a ${row.length}-wide row`).toBeLessThanOrEqual(
    MEAN_SHIFT_TOLERANCE * (1 + Math.abs(referenceMeanShift)),
  );
}

/** Replaces about `fraction` of the entries with each of −inf, +inf and NaN, keeping entry `keep` finite. */
function withNonFinite(row: Float32Array, fraction: number, seed: number, keep: number): Float32Array {
  const uniform = uniformSource(seed);
  const specials = [-Infinity, Infinity, NaN];
  const result = row.slice();
  for (let i = 0; i < result.length; i++) {
    if (i === keep) continue;
    const draw = uniform();
    const special = Math.floor(draw / fraction);
    if (special < specials.length) result[i] = specials[special]!;
  }
  return result;
}

describe('expSumsKernel', () => {
  it('is available on Node.js 20 and instantiated once', () => {
    const kernel = expSumsKernel();
    expect(kernel).toBeDefined();
    expect(expSumsKernel()).toBe(kernel);
  });

  it.each([1, 8, 30])('matches the float64 reference on random rows ×%d of every tail length', (scale) => {
    const kernel = requireKernel();
    for (const length of TAIL_LENGTHS) {
      for (let seed = 1; seed <= 5; seed++) expectAccurate(kernel, randomRow(length, scale, seed * 1000 + length));
    }
  });

  it.each([1, 8, 30])('matches the float64 reference on long random rows ×%d', (scale) => {
    const kernel = requireKernel();
    for (const length of LONG_LENGTHS) expectAccurate(kernel, randomRow(length, scale, length + scale));
  });

  it('skips −inf, +inf and NaN entries', () => {
    const kernel = requireKernel();
    for (const length of [...TAIL_LENGTHS, ...LONG_LENGTHS]) {
      for (const fraction of [0.05, 0.3]) {
        const row = withNonFinite(randomRow(length, 8, length), fraction, length + 7, length >> 1);
        expectAccurate(kernel, row);
      }
    }
  });

  it('gives exactly sum 1 and weighted 0 when all entries but one are −inf (entropy 0, log-probability 0)', () => {
    const kernel = requireKernel();
    const out = new Float64Array(2);
    for (const length of [...TAIL_LENGTHS, 32_128]) {
      for (const position of [0, length >> 1, length - 1]) {
        const row = new Float32Array(length).fill(-Infinity);
        row[position] = 3.7;
        expectAccurate(kernel, row);
        kernel.sums(row, Math.fround(3.7), out);
        expect(out[0]).toBe(1);
        expect(out[1]).toBe(0);
      }
    }
  });

  it('gives weight 0 to huge negatives next to normal values', () => {
    const kernel = requireKernel();
    for (const length of [5, 16, 17, 32_128]) {
      const row = randomRow(length, 8, length * 3);
      for (let i = 0; i < length; i += 3) row[i] = i % 2 === 0 ? -1e30 : -3.4e38;
      row[1] = 2;
      expectAccurate(kernel, row);
    }
    // z − max overflows float32 to −inf when both ends are near the float32 range.
    const extremes = Float32Array.from([3e38, -3e38, 2.9e38, -Infinity, -3.4e38, 3e38 - 1e32]);
    expectAccurate(kernel, extremes);
  });

  it('gives weight 0, not NaN, where z − max underflows (below −87)', () => {
    const kernel = requireKernel();
    const shifts = [0, -10, -86.9, -87.2, -87.4, -88, -90, -100, -103.9, -150, -745, -1e4, -3e38];
    for (const max of [0, 5, -40, 1000]) {
      const row = Float32Array.from(shifts, (shift) => max + shift);
      expectAccurate(kernel, row, max);
      const long = Float32Array.from({ length: 32_128 }, (_, i) => max + shifts[i % shifts.length]!);
      expectAccurate(kernel, long, max);
    }
    // Every entry but the maximum far below it: the sum is the maximum's weight alone.
    const out = new Float64Array(2);
    const row = new Float32Array(1000).fill(-200);
    row[999] = 0;
    requireKernel().sums(row, 0, out);
    expect(out[0]).toBeCloseTo(1, 6);
    expect(out[1]).toBe(0);
  });

  it('gives sum = length and weighted 0 for a row of equal scores', () => {
    const kernel = requireKernel();
    const out = new Float64Array(2);
    for (const length of [1, 15, 16, 17, 32_128]) {
      kernel.sums(new Float32Array(length).fill(-2.5), -2.5, out);
      expect(out[0]).toBe(length);
      expect(out[1]).toBe(0);
    }
  });

  it('gives zeros for an empty row', () => {
    const out = new Float64Array([7, 7]);
    requireKernel().sums(new Float32Array(0), 0, out);
    expect([...out]).toEqual([0, 0]);
  });

  it('accepts a max that is not a float32 value', () => {
    const kernel = requireKernel();
    for (const length of [3, 17, 32_128]) {
      const row = randomRow(length, 8, length + 11);
      const max = finiteMaximum(row);
      expectAccurate(kernel, row, max + 0.1);
      expectAccurate(kernel, row, max + 1e-9);
    }
  });

  it('keeps its results when reused on longer and then shorter rows (memory growth)', () => {
    const kernel = requireKernel();
    for (const length of [100, 32_128, 7, 250_000, 17, 32_128, 1, 250_000, 3]) {
      expectAccurate(kernel, randomRow(length, 8, length + 99));
      // A shorter row after a longer one must not see the longer row's entries past its end.
      expectAccurate(kernel, withNonFinite(randomRow(length, 30, length), 0.1, length, 0));
    }
  });
});

const SENTINEL = 7;

/**
 * `summarize` on `row`: its maximum is `finiteMaximum(row)` bit for bit (toBe is Object.is: −0 ≠ +0), its
 * sums are those of `sums` with that maximum, and `out` keeps its contents when there is no finite entry.
 */
function expectSummarizeMatches(kernel: ExpSumsKernel, row: Float32Array, what: string): void {
  const out = new Float64Array([SENTINEL, SENTINEL]);
  const max = kernel.summarize(row, out);
  const expectedMax = finiteMaximum(row);
  expect(max, `maximum of ${what}`).toBe(expectedMax);
  if (expectedMax === -Infinity) {
    expect([...out], `out after ${what} with no finite entry`).toEqual([SENTINEL, SENTINEL]);
    return;
  }
  const expected = new Float64Array(2);
  kernel.sums(row, expectedMax, expected);
  expect(out[0], `sum of ${what}`).toBe(expected[0]);
  expect(out[1], `weighted of ${what}`).toBe(expected[1]);
}

/** Rows of −0, +0 and negatives in a seeded order, so that either zero comes first in some lane. */
function signedZeroRow(length: number, seed: number): Float32Array {
  const uniform = uniformSource(seed);
  return Float32Array.from({ length }, () => {
    const draw = uniform();
    return draw < 0.3 ? -0 : draw < 0.6 ? 0 : draw < 0.8 ? -1 - draw : -Infinity;
  });
}

describe('expSumsKernel.summarize', () => {
  const lengths = [0, ...TAIL_LENGTHS];

  it('matches finiteMaximum and sums on random rows of every length 0..17 and long rows', () => {
    const kernel = requireKernel();
    for (const length of [...lengths, ...LONG_LENGTHS]) {
      for (const scale of [1, 30]) {
        for (let seed = 1; seed <= 3; seed++) {
          const row = randomRow(length, scale, seed * 7919 + length);
          expectSummarizeMatches(kernel, row, `a random ${length}-wide row ×${scale}`);
          const holed = withNonFinite(row, 0.2, seed + length, length >> 1);
          expectSummarizeMatches(kernel, holed, `a ${length}-wide row with non-finite entries`);
        }
      }
    }
  });

  it('finds the maximum in every position, the padded tail included', () => {
    const kernel = requireKernel();
    for (const length of [...TAIL_LENGTHS, 33, 32_128]) {
      const positions = length > 40 ? [0, 17, length - 1] : Array.from({ length }, (_, i) => i);
      for (const position of positions) {
        const row = randomRow(length, 1, length + position).map((score) => score - 10);
        row[position] = 12.5;
        expectSummarizeMatches(kernel, row, `a ${length}-wide row with its maximum at ${position}`);
      }
    }
  });

  it('returns −inf and leaves out untouched when no entry is finite', () => {
    const kernel = requireKernel();
    for (const length of [...lengths, 32_128]) {
      for (const fill of [-Infinity, Infinity, NaN]) {
        expectSummarizeMatches(kernel, new Float32Array(length).fill(fill), `a ${length}-wide row of ${fill}`);
      }
      const mixed = Float32Array.from({ length }, (_, i) => [-Infinity, NaN, Infinity][i % 3]!);
      expectSummarizeMatches(kernel, mixed, `a ${length}-wide row of −inf, NaN and +inf`);
    }
  });

  it('skips NaN and +inf next to the largest finite values', () => {
    const kernel = requireKernel();
    for (const length of [...TAIL_LENGTHS, 32_128]) {
      const row = Float32Array.from({ length }, (_, i) => [NaN, Infinity, 3.4e38, -3.4e38][i % 4]!);
      expectSummarizeMatches(kernel, row, `a ${length}-wide row of NaN, +inf and ±3.4e38`);
    }
  });

  it('returns the sign of the first zero when the maximum is ±0, as finiteMaximum does', () => {
    const kernel = requireKernel();
    for (const length of [...TAIL_LENGTHS, 33, 64, 32_128]) {
      for (let seed = 1; seed <= 8; seed++) {
        expectSummarizeMatches(kernel, signedZeroRow(length, seed * 31 + length), `a ${length}-wide row of ±0`);
      }
    }
    expectSummarizeMatches(kernel, Float32Array.from([-0, 0]), '[−0, +0]');
    expectSummarizeMatches(kernel, Float32Array.from([0, -0]), '[+0, −0]');
    expectSummarizeMatches(kernel, Float32Array.from([-1, NaN, -0, 0, 0, 0, 0, 0]), 'a row with −0 first');
  });

  it('keeps sums and summarize consistent when one instance alternates long and short rows', () => {
    const kernel = requireKernel();
    for (const length of [250_000, 3, 32_128, 0, 17, 250_000, 1]) {
      expectSummarizeMatches(kernel, randomRow(length, 8, length + 5), `a ${length}-wide row after another`);
      expectAccurate(kernel, randomRow(Math.max(length, 1), 8, length + 6));
    }
  });
});

describe('expSumsKernel.argmax and summarizeWithArgmax', () => {
  const lengths = [0, ...TAIL_LENGTHS, 33, 64];

  it('argmax gives the JavaScript loop\'s id on random rows, with and without non-finite entries', () => {
    const kernel = requireKernel();
    for (const length of [...lengths, ...LONG_LENGTHS]) {
      for (let seed = 1; seed <= 3; seed++) {
        const row = randomRow(length, 8, seed * 104_729 + length);
        expect(kernel.argmax(row), `a random ${length}-wide row`).toBe(argmaxOfFiniteLoop(row));
        const holed = withNonFinite(row, 0.2, seed + length, length >> 1);
        expect(kernel.argmax(holed), `a ${length}-wide row with non-finite entries`).toBe(argmaxOfFiniteLoop(holed));
      }
    }
  });

  it('argmax finds the maximum in every position and the first of equal maxima', () => {
    const kernel = requireKernel();
    for (const length of [...TAIL_LENGTHS, 33, 32_128]) {
      const positions = length > 40 ? [0, 17, length - 2, length - 1] : Array.from({ length }, (_, i) => i);
      for (const position of positions) {
        const row = randomRow(length, 1, length + position).map((score) => score - 10);
        row[position] = 12.5;
        expect(kernel.argmax(row), `${length} wide, maximum at ${position}`).toBe(position);
        // A tie later in the row (or in the same vector) keeps the first.
        if (position + 1 < length) row[length - 1] = 12.5;
        expect(kernel.argmax(row), `${length} wide, maximum at ${position} and at the end`).toBe(position);
      }
    }
  });

  it('argmax skips NaN and +inf, gives −1 when nothing is finite, and takes the first zero of either sign', () => {
    const kernel = requireKernel();
    for (const length of [...lengths, 32_128]) {
      for (const fill of [-Infinity, Infinity, NaN]) expect(kernel.argmax(new Float32Array(length).fill(fill))).toBe(-1);
      const row = Float32Array.from({ length }, (_, i) => [NaN, Infinity, 3.4e38, -3.4e38][i % 4]!);
      expect(kernel.argmax(row), `${length} wide, NaN, +inf and ±3.4e38`).toBe(argmaxOfFiniteLoop(row));
      for (let seed = 1; seed <= 4; seed++) {
        const zeros = signedZeroRow(length, seed * 17 + length);
        expect(kernel.argmax(zeros), `${length} wide, ±0`).toBe(argmaxOfFiniteLoop(zeros));
      }
    }
  });

  it('summarizeWithArgmax gives summarize\'s figures and the loop\'s id, on rows after longer ones too', () => {
    const kernel = requireKernel();
    for (const length of [250_000, ...lengths, 32_128, 7]) {
      const rows = [
        randomRow(length, 8, length + 3),
        withNonFinite(randomRow(length, 30, length + 4), 0.2, length, length >> 1),
        signedZeroRow(length, length + 5),
        new Float32Array(length).fill(NaN),
      ];
      for (const [index, row] of rows.entries()) {
        const what = `row ${index}, ${length} wide`;
        const out = new Float64Array([SENTINEL, SENTINEL, SENTINEL]);
        const argmax = kernel.summarizeWithArgmax(row, out);
        expect(argmax, what).toBe(argmaxOfFiniteLoop(row));
        const expected = new Float64Array([SENTINEL, SENTINEL]);
        const max = kernel.summarize(row, expected);
        if (max === -Infinity) {
          expect([...out], `out after ${what} with no finite entry`).toEqual([SENTINEL, SENTINEL, SENTINEL]);
          continue;
        }
        expect(out[2], `max of ${what}`).toBe(max);
        expect(out[0], `sum of ${what}`).toBe(expected[0]);
        expect(out[1], `weighted of ${what}`).toBe(expected[1]);
      }
    }
  });
});

/**
 * Properties over random rows (fast-check), each against the definition it states: top-p keeps the smallest
 * top set whose mass reaches p, top-k keeps ties, min-p's threshold, temperature's exact scaling, the
 * repetition penalty applied once per token, no-repeat-ngram banning exactly the repeating tokens, radix
 * selection equal to sorting, and a control pipeline leaving the row bit-identical.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { kthLargest } from '../../../src/processors/math/kth-largest.js';
import { sharedRadixSelect } from '../../../src/processors/math/radix-select.js';
import { rowMaximum } from '../../../src/processors/math/softmax-basis.js';
import { topPCut } from '../../../src/processors/math/top-p-cut.js';
import { processorSpec } from '../../../src/processors/param-values.js';
import { Pipeline } from '../../../src/processors/pipeline.js';
import { applied, probabilities, registry, staticContext, stepAt, survivors } from './test-context.js';

const RUNS = { numRuns: 300 };

/** Rows of finite scores; half of them drawn from a few values so that ties are common. */
const finiteRow = fc.oneof(
  fc.array(fc.float({ min: -20, max: 20, noNaN: true, noDefaultInfinity: true }), { minLength: 2, maxLength: 80 }),
  fc.array(fc.constantFrom(-3, -1, 0, 0.5, 2, 2.25, 4), { minLength: 2, maxLength: 80 }),
);

/** Rows that may also hold -inf (removed tokens), with at least one finite score. */
const rowWithRemovals = fc
  .tuple(finiteRow, fc.array(fc.boolean(), { minLength: 80, maxLength: 80 }))
  .map(([row, removed]) => row.map((value, i) => (removed[i] && i > 0 ? -Infinity : value)));

const sortedDescending = (values: readonly number[]): number[] => [...values].sort((a, b) => b - a);

describe('top-k', () => {
  it('keeps exactly the scores >= the k-th highest, so ties at the k-th score all stay', () => {
    fc.assert(
      fc.property(rowWithRemovals, fc.integer({ min: 1, max: 90 }), (row, k) => {
        const out = applied('top_k', { top_k: k }, row);
        const kth = sortedDescending(Array.from(Float32Array.from(row)))[Math.min(k, row.length) - 1]!;
        Float32Array.from(row).forEach((value, id) => expect(out[id]).toBe(value >= kth ? value : -Infinity));
        expect(out.filter((value) => value > -Infinity).length).toBeGreaterThanOrEqual(
          Math.min(k, row.filter((value) => value > -Infinity).length),
        );
      }),
      RUNS,
    );
  });
});

describe('top-p', () => {
  it('keeps the smallest top set whose probability mass reaches p', () => {
    fc.assert(
      fc.property(rowWithRemovals, fc.double({ min: 0.02, max: 0.98, noNaN: true }), (row, topP) => {
        const input = Float32Array.from(row);
        const p = probabilities(input);
        // Ties make the mass come in groups of equal scores; stay clear of the float32 boundary band.
        const massAbove = (value: number) => p.reduce((sum, q, id) => (input[id]! > value ? sum + q : sum), 0);
        const groups = [...new Set(Array.from(input))];
        fc.pre(groups.every((value) => Math.abs(massAbove(value) - topP) > 1e-6));

        const kept = survivors(applied('top_p', { top_p: topP }, row));
        const keptMass = kept.reduce((sum, id) => sum + p[id]!, 0);
        const lowestKept = Math.min(...kept.map((id) => input[id]!));
        // A top set: nothing removed scores higher than anything kept.
        for (const id of survivors(input)) if (input[id]! > lowestKept) expect(kept).toContain(id);
        expect(keptMass).toBeGreaterThanOrEqual(topP - 1e-6);
        // The smallest: without its lowest group of equal scores the kept mass is below p.
        expect(massAbove(lowestKept)).toBeLessThan(topP);
      }),
      RUNS,
    );
  });

  it('top_p = 1 removes nothing with a non-zero probability', () => {
    fc.assert(
      fc.property(rowWithRemovals, (row) => {
        expect(Array.from(applied('top_p', { top_p: 1 }, row))).toEqual(Array.from(Float32Array.from(row)));
      }),
      RUNS,
    );
  });
});

describe('min-p', () => {
  it('keeps a token iff its probability is at least min_p times the top probability', () => {
    fc.assert(
      fc.property(rowWithRemovals, fc.double({ min: 0.01, max: 1, noNaN: true }), (row, minP) => {
        const input = Float32Array.from(row);
        const p = probabilities(input);
        const threshold = minP * Math.max(...p);
        fc.pre(p.every((q) => q === 0 || Math.abs(q - threshold) > 1e-6 * threshold));
        const kept = survivors(applied('min_p', { min_p: minP }, row));
        expect(kept).toEqual(p.flatMap((q, id) => (q > 0 && q >= threshold ? [id] : [])));
      }),
      RUNS,
    );
  });
});

describe('typical-p', () => {
  it('keeps the tokens up to the one whose mass, by increasing |surprise - entropy|, reaches typical_p', () => {
    fc.assert(
      fc.property(
        // The wide two-valued row puts 4,500 tied scores in one histogram bin: the radix fallback.
        fc.oneof(rowWithRemovals, fc.constant(Array.from({ length: 9000 }, (_, i) => (i % 2) - (i === 0 ? 5 : 0)))),
        fc.double({ min: 0.05, max: 0.95, noNaN: true }),
        (row, mass) => {
          const input = Float32Array.from(row);
          const p = probabilities(input);
          const entropy = -p.reduce((sum, q) => (q > 0 ? sum + q * Math.log(q) : sum), 0);
          const surprise = p.map((q) => (q > 0 ? Math.abs(-Math.log(q) - entropy) : Infinity));
          const order = surprise.map((_, id) => id).sort((a, b) => surprise[a]! - surprise[b]!);
          let cumulative = 0;
          let last = order.length - 1;
          for (let position = 0; position < order.length; position++) {
            cumulative += p[order[position]!]!;
            fc.pre(Math.abs(cumulative - Math.fround(mass)) > 1e-9);
            if (cumulative >= Math.fround(mass)) {
              last = position;
              break;
            }
          }
          const cut = surprise[order[last]!]!;
          // Surprises within rounding noise of the cut (but from another score) make the cut a coin toss.
          fc.pre(surprise.every((s, id) => input[id] === input[order[last]!] || Math.abs(s - cut) > 1e-6));
          const expected = surprise.flatMap((s, id) => (s <= cut && p[id]! > 0 ? [id] : []));
          expect(survivors(applied('typical_p', { typical_p: mass }, row))).toEqual(expected);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('temperature', () => {
  it('divides every score by the float32 temperature, bit for bit', () => {
    fc.assert(
      fc.property(rowWithRemovals, fc.double({ min: 0.05, max: 20, noNaN: true }), (row, temperature) => {
        const out = applied('temperature', { temperature }, row);
        const t32 = Math.fround(temperature);
        Float32Array.from(row).forEach((value, id) => expect(out[id]).toBe(Math.fround(value / t32)));
      }),
      RUNS,
    );
  });
});

describe('repetition penalty', () => {
  it('penalises each token of the history exactly once, however often it occurs, and nothing else', () => {
    const history = fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 1, maxLength: 40 });
    fc.assert(
      fc.property(
        fc.array(fc.float({ min: -20, max: 20, noNaN: true, noDefaultInfinity: true }), { minLength: 10, maxLength: 10 }),
        history,
        fc.double({ min: 0.1, max: 5, noNaN: true }),
        (row, ids, penalty) => {
          const out = applied('repetition_penalty', { repetition_penalty: penalty }, row, ids);
          const p32 = Math.fround(penalty);
          Float32Array.from(row).forEach((value, id) => {
            const once = value < 0 ? Math.fround(value * p32) : Math.fround(value / p32);
            expect(out[id]).toBe(ids.includes(id) ? once : value);
          });
        },
      ),
      RUNS,
    );
  });
});

describe('no-repeat n-gram', () => {
  it('bans exactly the tokens that would repeat an n-gram of the history', () => {
    const vocabulary = 6;
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: vocabulary - 1 }), { minLength: 1, maxLength: 30 }),
        fc.integer({ min: 1, max: 4 }),
        (history, n) => {
          const out = applied('no_repeat_ngram_size', { no_repeat_ngram_size: n }, new Array(vocabulary).fill(1), history);
          const seen = new Set<string>();
          for (let start = 0; start + n <= history.length; start++) seen.add(history.slice(start, start + n).join(','));
          for (let token = 0; token < vocabulary; token++) {
            const candidate = [...history.slice(history.length - (n - 1)), token];
            const repeats = history.length >= n - 1 && seen.has((n === 1 ? [token] : candidate).join(','));
            expect(out[token]).toBe(repeats ? -Infinity : 1);
          }
        },
      ),
      RUNS,
    );
  });
});

describe('radix selection', () => {
  it('finds the same k-th largest value as a sort, with ties, -0, ±inf and NaN (never counted) in the row', () => {
    const special = fc.constantFrom(-0, 0, Infinity, -Infinity, Number.NaN, 1e-45, -1e38);
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.float({ noNaN: true }), special), { minLength: 1, maxLength: 200 }),
        fc.integer({ min: 1, max: 200 }),
        (values, k) => {
          const row = Float32Array.from(values);
          const ordered = sortedDescending(Array.from(row).filter((value) => !Number.isNaN(value)));
          fc.pre(k <= ordered.length);
          expect(sharedRadixSelect.kthLargest(row, k) === ordered[k - 1]).toBe(true);
        },
      ),
      RUNS,
    );
  });
});

describe('fast paths agree with the exact radix selection', () => {
  it('the heap k-th largest equals the radix one, for small and large k', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.float({ noNaN: true }), fc.constantFrom(-0, 0, Infinity, -Infinity, Number.NaN)), { minLength: 1, maxLength: 3000 }),
        fc.integer({ min: 1, max: 3000 }),
        (values, k) => {
          const row = Float32Array.from(values);
          fc.pre(k <= row.filter((value) => !Number.isNaN(value)).length);
          expect(kthLargest(row, k) === sharedRadixSelect.kthLargest(row, k)).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('the histogram top-p cut equals the radix cut, also when the crossing bin overflows into the fallback', () => {
    // Wide rows drawn from few values: thousands of ties land in one histogram bin.
    const wideRow = fc
      .tuple(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 100, max: 9000 }), fc.integer({ min: 0, max: 2 ** 31 }))
      .map(([distinct, width, seed]) =>
        Float32Array.from({ length: width }, (_, i) => ((Math.imul(i + 1, 2654435761) ^ seed) >>> 0) % distinct),
      );
    fc.assert(
      fc.property(fc.oneof(wideRow, finiteRow.map((row) => Float32Array.from(row))), fc.double({ min: 0, max: 0.99, noNaN: true }), (row, fraction) => {
        const max = rowMaximum(row);
        expect(topPCut(row, max, fraction)).toBe(sharedRadixSelect.ascendingMassCut(row, max, fraction));
      }),
      { numRuns: 200 },
    );
  });
});

describe('top-p on a row where more than 4096 tokens tie at the cut (the fallback path)', () => {
  it('keeps the whole tied group, as the exact cut says', () => {
    const row = new Float32Array(9000);
    row[0] = 1;
    // The mass of the 8999 zeros is far above 1 - top_p: the cut is at 0 and every token stays.
    expect(topPCut(row, 1, Math.fround(1 - 0.9))).toBe(0);
    expect(survivors(applied('top_p', { top_p: 0.9 }, row, [0], staticContext({ vocabSize: 9000 }))).length).toBe(9000);
  });
});

describe('control pipeline', () => {
  it('an empty pipeline and one of neutral settings leave the row bit-identical', () => {
    const neutral = Pipeline.build(
      registry,
      [
        processorSpec('repetition_penalty', { repetition_penalty: 1 }),
        processorSpec('temperature', { temperature: 1 }),
        processorSpec('top_k', { top_k: 1000 }),
        processorSpec('top_p', { top_p: 1 }),
        processorSpec('min_p', { min_p: 0 }),
      ],
      staticContext({ vocabSize: 80 }),
    );
    const empty = Pipeline.build(registry, [], staticContext({ vocabSize: 80 }));
    fc.assert(
      fc.property(rowWithRemovals, fc.array(fc.integer({ min: 0, max: 79 }), { minLength: 1, maxLength: 20 }), (row, history) => {
        for (const pipeline of [empty, neutral]) {
          const input = Float32Array.from(row);
          const out = Float32Array.from(row);
          pipeline.run(out, stepAt(history));
          expect(new Uint32Array(out.buffer)).toEqual(new Uint32Array(input.buffer));
        }
      }),
      RUNS,
    );
  });
});

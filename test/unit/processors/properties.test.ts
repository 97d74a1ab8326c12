/**
 * Properties over random rows (fast-check), each against the definition it states: top-p keeps the smallest
 * top set whose mass reaches p, top-k keeps ties, min-p's threshold, temperature's exact scaling, the
 * repetition penalty applied once per token, no-repeat-ngram banning exactly the repeating tokens, radix
 * selection equal to sorting, and a control pipeline leaving the row bit-identical.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sharedRadixSelect } from '../../../src/processors/math/radix-select.js';
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

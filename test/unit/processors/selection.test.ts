/**
 * Token selection and score statistics: greedy ties and empty rows, seeded sampling that depends only on
 * (seed, stream, step), and log-probabilities / entropy / alternatives that stay exact for extreme rows.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EmptyDistributionError } from '../../../src/processors/errors.js';
import { counterUniform } from '../../../src/processors/selection/counter-random.js';
import { selectGreedy, selectGreedyWithSummary } from '../../../src/processors/selection/greedy.js';
import { SeededDraws, sampleFromScores } from '../../../src/processors/selection/sampling.js';
import {
  entropy,
  logProbability,
  summarizeScores,
  topAlternatives,
  summaryWithRestored,
} from '../../../src/processors/selection/score-statistics.js';
import { createTokenSelector } from '../../../src/processors/selection/token-selector.js';
import { SECTION_6_2, WEIGHTS } from './test-context.js';

const NEG_INF = -Infinity;
/** Reported log-probabilities and entropies: within 5e-7 (float32 on the wire; see score-statistics.ts). */
const REPORTED_PRECISION = 6;

describe('greedy selection', () => {
  it('picks the lowest id among equal maxima', () => {
    expect(selectGreedy(Float32Array.from([0, 5, 2, 5, 5]), 0)).toBe(1);
  });

  it('never picks a non-finite score: NaN and +inf are not candidates', () => {
    expect(selectGreedy(Float32Array.from([Number.NaN, 1, Infinity, 2, NEG_INF]), 0)).toBe(3);
  });

  it('throws EmptyDistributionError naming the step for a row of -inf and NaN, instead of returning 0', () => {
    const row = Float32Array.from([NEG_INF, Number.NaN, NEG_INF]);
    expect(() => selectGreedy(row, 7)).toThrow(EmptyDistributionError);
    expect(() => selectGreedy(row, 7)).toThrow(/^step 7: /);
    expect(() => selectGreedyWithSummary(row, 7)).toThrow(EmptyDistributionError);
  });

  it('with its summary picks exactly what selectGreedy picks, and the summary is summarizeScores of the row', () => {
    const values = fc.oneof(
      fc.constantFrom(NEG_INF, Infinity, Number.NaN, 0, -0, 1, -1, 3.5),
      fc.float({ min: -50, max: 50, noNaN: true }),
    );
    fc.assert(
      fc.property(fc.array(values, { minLength: 1, maxLength: 70 }), (entries) => {
        const row = Float32Array.from(entries);
        const finite = entries.some((value) => Number.isFinite(value));
        if (!finite) {
          expect(() => selectGreedyWithSummary(row, 0)).toThrow(EmptyDistributionError);
          return;
        }
        const { token, summary } = selectGreedyWithSummary(row, 0);
        expect(token).toBe(selectGreedy(row, 0));
        expect(summary).toEqual(summarizeScores(row));
      }),
      { numRuns: 500 },
    );
    const wide = Float32Array.from({ length: 32_128 }, (_, i) => Math.sin(i * 0.01) * 9);
    wide[31_000] = 20;
    wide[31_500] = 20;
    expect(selectGreedyWithSummary(wide, 3).token).toBe(31_000);
  });
});

describe('seeded sampling', () => {
  it('draws depend only on (seed, stream, step): the same triple gives the same number in any call order', () => {
    const forward = [0, 1, 2, 3, 4].map((step) => counterUniform(42n, 0n, step));
    const backward = [4, 3, 2, 1, 0].map((step) => counterUniform(42n, 0n, step)).reverse();
    expect(backward).toEqual(forward);
    // Interleaving another stream's draws changes nothing.
    const interleaved = [0, 1, 2, 3, 4].map((step) => (counterUniform(7n, 3n, step), counterUniform(42n, 0n, step)));
    expect(interleaved).toEqual(forward);
  });

  it('different seeds, streams and steps give different draws in [0, 1)', () => {
    const draws = new Set<number>();
    for (const seed of [0n, 1n, 2n ** 63n]) {
      for (const stream of [0n, 1n]) {
        for (let step = 0; step < 50; step++) {
          const u = counterUniform(seed, stream, step);
          expect(u).toBeGreaterThanOrEqual(0);
          expect(u).toBeLessThan(1);
          draws.add(u);
        }
      }
    }
    expect(draws.size).toBe(300);
  });

  it('draws are uniform enough to reproduce §6.2`s distribution (20,000 draws within 1.5 points)', () => {
    const draws = new SeededDraws(2024);
    const counts = new Array(6).fill(0);
    for (let step = 0; step < 20_000; step++) counts[sampleFromScores(SECTION_6_2, draws.uniform(step), step)]++;
    counts.forEach((count, id) => expect(Math.abs(count / 20_000 - WEIGHTS[id]! / 100)).toBeLessThan(0.015));
  });

  it('a sampling selector reproduces the same tokens for the same seed and differs for another seed', () => {
    const tokens = (seed: number) => {
      const selector = createTokenSelector({ mode: 'sample', seed });
      return Array.from({ length: 40 }, (_, step) => selector.select(SECTION_6_2, step));
    };
    expect(tokens(11)).toEqual(tokens(11));
    expect(tokens(11)).not.toEqual(tokens(12));
  });

  it('draws tied tokens (one histogram bin) equally often', () => {
    const row = Float32Array.from([NEG_INF, 1.5, 1.5, 1.5, 1.5, NEG_INF]);
    const draws = new SeededDraws(8);
    const counts = new Array(6).fill(0);
    for (let step = 0; step < 8000; step++) counts[sampleFromScores(row, draws.uniform(step), step)]++;
    expect(counts[0] + counts[5]).toBe(0);
    for (const id of [1, 2, 3, 4]) expect(Math.abs(counts[id] / 8000 - 0.25)).toBeLessThan(0.02);
  });

  it('never samples a removed, NaN or +inf token', () => {
    const row = Float32Array.from([NEG_INF, 0, Number.NaN, 0, Infinity, NEG_INF]);
    const draws = new SeededDraws(5);
    for (let step = 0; step < 500; step++) expect([1, 3]).toContain(sampleFromScores(row, draws.uniform(step), step));
  });

  it('is an inverse-CDF draw walking from the most likely token: on §6.2 u in [0, .30) gives 2, [.30, .55) 4 … [.96, 1) 0', () => {
    const cases: [number, number][] = [
      [0, 2], [0.2999, 2], [0.3001, 4], [0.5499, 4], [0.5501, 1], [0.7499, 1],
      [0.7501, 3], [0.8599, 3], [0.8601, 5], [0.9599, 5], [0.9601, 0], [0.999999, 0],
    ];
    for (const [uniform, token] of cases) expect(sampleFromScores(SECTION_6_2, uniform, 0)).toBe(token);
  });

  it('throws EmptyDistributionError on a row without a finite score', () => {
    expect(() => sampleFromScores(Float32Array.from([NEG_INF, NEG_INF]), 0.5, 3)).toThrow(EmptyDistributionError);
  });

  it('refuses a seed outside [0, 2^64)', () => {
    expect(() => new SeededDraws(-1)).toThrow('`seed` must be an integer in [0, 2^64); given -1');
    expect(() => new SeededDraws(2n ** 64n)).toThrow(RangeError);
  });
});

describe('score statistics', () => {
  it('log-probabilities of §6.2 are ln(w / 100)', () => {
    const summary = summarizeScores(SECTION_6_2);
    WEIGHTS.forEach((weight, id) => expect(logProbability(SECTION_6_2, id, summary)).toBeCloseTo(Math.log(weight / 100), 6));
  });

  it('stays exact with ±1e30 scores: no NaN, the mass on the top scores, entropy from them alone', () => {
    const row = Float32Array.from([1e30, -1e30, 0, 1e30 - 1]);
    const summary = summarizeScores(row);
    // 1e30 and 1e30 - 1 are the same float32: two equal tokens share the mass. The sums run in float32
    // exponentials (see score-statistics.ts): within REPORTED_PRECISION of the exact values.
    expect(logProbability(row, 0, summary)).toBeCloseTo(-Math.LN2, REPORTED_PRECISION);
    expect(logProbability(row, 3, summary)).toBeCloseTo(-Math.LN2, REPORTED_PRECISION);
    expect(logProbability(row, 1, summary)).toBeCloseTo(row[1]! - row[0]! - Math.LN2, REPORTED_PRECISION);
    expect(entropy(summary)).toBeCloseTo(Math.LN2, REPORTED_PRECISION);
    expect(entropy(summarizeScores(Float32Array.from([1e30, -1e30, 0])))).toBe(0);
  });

  it('gives -inf to removed tokens and ignores them in the entropy', () => {
    const row = Float32Array.from([0, NEG_INF, 0, Number.NaN]);
    const summary = summarizeScores(row);
    expect(logProbability(row, 1, summary)).toBe(NEG_INF);
    expect(logProbability(row, 3, summary)).toBe(NEG_INF);
    expect(entropy(summary)).toBeCloseTo(Math.LN2, REPORTED_PRECISION);
  });

  it('reports NaN (not a number that looks valid) for a row without a finite score', () => {
    const summary = summarizeScores(Float32Array.from([NEG_INF, NEG_INF]));
    expect(entropy(summary)).toBeNaN();
    expect(logProbability(Float32Array.from([NEG_INF, NEG_INF]), 0, summary)).toBeNaN();
  });

  it('lists the n most likely tokens best first, the lower id first among equals', () => {
    const row = Float32Array.from([1, 5, 3, 5, NEG_INF, 4, 3]);
    const alternatives = topAlternatives(row, 4);
    expect(alternatives.map((a) => a.tokenId)).toEqual([1, 3, 5, 2]);
    const summary = summarizeScores(row);
    alternatives.forEach((a) => expect(a.logProbability).toBe(logProbability(row, a.tokenId, summary)));
    expect(topAlternatives(row, 10).map((a) => a.tokenId)).toEqual([1, 3, 5, 2, 6, 0]);
    expect(topAlternatives(row, 0)).toEqual([]);
  });

  it('agrees with a full sort on a wide random row', () => {
    const draws = new SeededDraws(9);
    const row = Float32Array.from({ length: 5000 }, (_, i) => Math.round(draws.uniform(i) * 200) / 10);
    const sorted = Array.from(row.keys()).sort((a, b) => row[b]! - row[a]! || a - b);
    expect(topAlternatives(row, 20).map((a) => a.tokenId)).toEqual(sorted.slice(0, 20));
  });
});

describe('raw statistics from processed ones', () => {
  /** A row of scores around ±20, with a few -inf and NaN among them. */
  const rows = fc
    .array(fc.oneof({ weight: 20, arbitrary: fc.float({ min: -20, max: 20, noNaN: true }) }, fc.constant(-Infinity), fc.constant(Number.NaN)), {
      minLength: 8,
      maxLength: 64,
    })
    .map((values) => Float32Array.from(values));

  it('equal a pass over the raw row when listed ids were removed (-inf) or left as they were', () => {
    fc.assert(
      fc.property(rows, fc.array(fc.nat(), { maxLength: 6 }), fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }), (raw, picks, removed) => {
        const ids = [...new Set(picks.map((pick) => pick % raw.length))];
        const processed = Float32Array.from(raw);
        ids.forEach((id, i) => {
          if (removed[i]) processed[id] = -Infinity;
        });
        const processedSummary = summarizeScores(processed);
        const restored = summaryWithRestored(processedSummary, raw, processed, ids);
        if (processedSummary.max === -Infinity) return expect(restored).toBeUndefined();
        const direct = summarizeScores(raw);
        expect(restored!.max).toBe(direct.max);
        expect(restored!.logSum).toBeCloseTo(direct.logSum, 5);
        expect(restored!.meanShifted).toBeCloseTo(direct.meanShifted, 5);
      }),
    );
  });

  it('restore a removed EOS that held the raw maximum, and refuse a listed id that was changed otherwise', () => {
    const raw = Float32Array.from([0.5, 9, 1, -2, 3]);
    const processed = Float32Array.from(raw);
    processed[1] = -Infinity;
    const restored = summaryWithRestored(summarizeScores(processed), raw, processed, [1])!;
    const direct = summarizeScores(raw);
    expect(restored.max).toBe(9);
    expect(restored.logSum).toBeCloseTo(direct.logSum, 6);
    expect(restored.meanShifted).toBeCloseTo(direct.meanShifted, 6);
    processed[1] = 4; // lowered, not removed: the processed sums cannot be corrected for it
    expect(summaryWithRestored(summarizeScores(processed), raw, processed, [1])).toBeUndefined();
  });
});

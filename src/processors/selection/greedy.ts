/**
 * Greedy selection: the highest processed score wins, the lowest id on ties (as `torch.argmax`).
 */
import { EmptyDistributionError } from '../errors.js';
import { argmaxOfFinite } from '../../numeric/argmax.js';
import type { Sample } from './sampling.js';
import { summarizeScoresWithArgmax } from './score-statistics.js';

/**
 * The id of the highest finite score, the lowest id among equals. Throws `EmptyDistributionError` when the
 * row has no finite score: never a silent token 0 (what `argmax` of an all -inf row would give).
 */
export function selectGreedy(row: Float32Array, step: number): number {
  const best = argmaxOfFinite(row);
  if (best < 0) throw new EmptyDistributionError(step, []);
  return best;
}

/**
 * `selectGreedy` together with the row's statistics, which a stream reports with the token anyway. The
 * statistics already hold the finite maximum (found in the SIMD kernel), so the token is the first id
 * holding it — an equality scan over the same copy of the row instead of a second pass that compares.
 * Equality finds the first zero of either sign, as the strict `>` of `argmaxOfFinite` keeps it.
 */
export function selectGreedyWithSummary(row: Float32Array, step: number): Sample {
  const { summary, argmax } = summarizeScoresWithArgmax(row);
  if (argmax < 0) throw new EmptyDistributionError(step, []);
  return { token: argmax, summary };
}

/**
 * Greedy selection: the highest processed score wins, the lowest id on ties (as `torch.argmax`).
 */
import { EmptyDistributionError } from '../errors.js';

/**
 * The id of the highest finite score, the lowest id among equals. Throws `EmptyDistributionError` when the
 * row has no finite score: never a silent token 0 (what `argmax` of an all -inf row would give).
 */
export function selectGreedy(row: Float32Array, step: number): number {
  const best = argmaxOfFinite(row);
  if (best < 0) throw new EmptyDistributionError(step, []);
  return best;
}

/** The lowest id of the highest finite score, -1 when there is none (a loop of its own; see softmax-basis.ts). */
function argmaxOfFinite(row: Float32Array): number {
  let best = -1;
  let bestScore = -Infinity;
  for (let i = 0; i < row.length; i++) {
    const score = row[i]!;
    // Strict `>` keeps the first of equal scores; the bounds exclude -inf, +inf and NaN.
    if (score > bestScore && score < Infinity) {
      best = i;
      bestScore = score;
    }
  }
  return best;
}

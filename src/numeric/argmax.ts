/**
 * The greedy rule on a row of scores: the highest finite score, the lowest id on ties (as `torch.argmax`).
 * Its own module because two places must apply exactly the same rule: greedy selection (`greedy.ts`) and
 * the model thread's guess of a greedy stream's next token (`runtime/worker/run-ahead.ts`), which runs
 * between two decoder runs, sixteen rows at a time when sixteen streams decode together.
 */
import { expSumsKernel } from './exp-sums-kernel.js';

const kernel = expSumsKernel();

/**
 * The lowest id of the highest finite score, -1 when there is none. In the WebAssembly SIMD kernel where
 * there is one (the row's copy, its finite maximum, the first id holding it: a fraction of the loop's time
 * on a vocabulary-wide row; figures in bench/README.md), else `argmaxOfFiniteLoop`.
 */
export function argmaxOfFinite(row: Float32Array): number {
  return kernel === undefined ? argmaxOfFiniteLoop(row) : kernel.argmax(row);
}

/** `argmaxOfFinite` in JavaScript (a loop of its own; see softmax-basis.ts). */
export function argmaxOfFiniteLoop(row: Float32Array): number {
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

/**
 * The greedy rule on a row of scores: the highest finite score, the lowest id on ties (as `torch.argmax`).
 * Its own module, with no imports, because two places must apply exactly the same rule: greedy selection
 * (`greedy.ts`) and the model thread's guess of a greedy stream's next token (`runtime/worker/run-ahead.ts`).
 */

/** The lowest id of the highest finite score, -1 when there is none (a loop of its own; see softmax-basis.ts). */
export function argmaxOfFinite(row: Float32Array): number {
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

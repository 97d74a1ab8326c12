/**
 * What selection considers a candidate: a finite score. -inf means "removed"; NaN and +inf cannot be given a
 * probability by softmax (PyTorch refuses to sample from them), so they are never selected either —
 * `remove_invalid_values` turns them into finite numbers when that is wanted.
 */

/** The largest finite score, or -inf when there is none. */
export function finiteMaximum(row: Float32Array): number {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) {
    const score = row[i]!;
    if (score > max && score < Infinity) max = score;
  }
  return max;
}

export function isCandidate(score: number): boolean {
  return score > -Infinity && score < Infinity;
}

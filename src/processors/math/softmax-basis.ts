/**
 * The pieces of a softmax over one row, computed without allocating: the maximum and the sum of
 * `exp(z - max)` in float64. The warpers (top-p, min-p, typical, epsilon, eta) use them the way PyTorch's
 * `softmax` would see the row: a NaN anywhere, a +inf, or a row with no finite value gives a NaN softmax in
 * PyTorch, whose comparisons then remove nothing; `rowMaximum` returns a non-finite value in exactly those
 * cases so that callers can leave the row alone.
 */

/** The row's maximum, NaN if any entry is NaN (as `torch.max`), -inf for an all -inf row. */
export function rowMaximum(row: Float32Array): number {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) {
    const value = row[i]!;
    if (value > max) max = value;
    else if (value !== value) return NaN;
  }
  return max;
}

/** Σ exp(z - max) in float64; -inf entries contribute 0. */
export function sumExp(row: Float32Array, max: number): number {
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i]! - max);
  return sum;
}

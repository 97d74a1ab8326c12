/**
 * The pieces of a softmax over one row, computed without allocating: the maximum and the sum of
 * `exp(z - max)` in float64. The warpers (top-p, min-p, typical, epsilon, eta) use them the way PyTorch's
 * `softmax` would see the row: a NaN anywhere, a +inf, or a row with no finite value gives a NaN softmax in
 * PyTorch, whose comparisons then remove nothing; `rowMaximum` returns a non-finite value in exactly those
 * cases so that callers can leave the row alone.
 *
 * Each long loop here is a function of its own that returns plain numbers: V8 compiles such loops on stack
 * replacement, and code after the loop in the same function that had not run yet (a comparison, an object
 * literal, a `Math` call) was seen to deoptimize on every call, falling back to the interpreter.
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

/** Σ exp(z - max) in float64 over a row whose maximum is finite; -inf entries (skipped) contribute 0. */
export function sumExp(row: Float32Array, max: number): number {
  let sum = 0;
  for (let i = 0; i < row.length; i++) {
    const score = row[i]!;
    if (score > -Infinity) sum += Math.exp(score - max);
  }
  return sum;
}

/** The second result of `exponentialSums`, valid until its next call. */
export const exponentialSumsResult = { weightedShift: 0 };

/**
 * Σ exp(z - max) over the scores that are neither -inf nor NaN (nor +inf), returned, and
 * Σ exp(z - max)·(z - max) in `exponentialSumsResult.weightedShift`: the softmax normaliser and, with it,
 * the entropy `log Σ - weightedShift / Σ`. `max` must be finite.
 */
export function exponentialSums(row: Float32Array, max: number): number {
  let sum = 0;
  let weighted = 0;
  for (let i = 0; i < row.length; i++) {
    const score = row[i]!;
    if (!(score > -Infinity) || score === Infinity) continue;
    const shifted = score - max;
    const weight = Math.exp(shifted);
    sum += weight;
    // Underflowed weights are skipped: 0 · (a huge negative shift) adds nothing, and 0 · -inf would be NaN.
    if (weight > 0) weighted += weight * shifted;
  }
  exponentialSumsResult.weightedShift = weighted;
  return sum;
}

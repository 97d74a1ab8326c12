/**
 * One pass of `exp` over a row, binned by distance to the maximum: 4096 bins over 64 logit units (bin 0
 * holds the top; everything further than 64 below the maximum shares the last bin). Top-p finds its cut and
 * sampling its token by walking the bins, then look again at one bin's few members only; the same pass
 * yields the softmax sum and entropy. -inf and NaN scores carry no probability and are skipped before
 * paying for `exp`.
 */

export const BINS = 4096;
const SPAN = 64;
const SCALE = BINS / SPAN;

/** Bin of a score at `distance = max - z` below the maximum. */
export function binOf(distance: number): number {
  return distance >= SPAN ? BINS - 1 : (distance * SCALE) | 0;
}

export class ExpHistogram {
  readonly counts = new Uint32Array(BINS);
  readonly masses = new Float64Array(BINS);
  /** Σ exp(z - max) over the row. */
  total = 0;
  /** Σ exp(z - max) · (z - max): with `total`, the entropy. */
  weightedShift = 0;

  /** Fills the bins from `row`, whose finite maximum is `max`. */
  fill(row: Float32Array, max: number): void {
    const { counts, masses } = this;
    counts.fill(0);
    masses.fill(0);
    let total = 0;
    let weightedShift = 0;
    for (let i = 0; i < row.length; i++) {
      const score = row[i]!;
      // Also false for NaN; +inf never reaches here (the maximum is finite, callers skip +inf rows).
      if (!(score > -Infinity) || score === Infinity) continue;
      const shift = score - max;
      const weight = Math.exp(shift);
      const bin = binOf(-shift);
      counts[bin]!++;
      masses[bin]! += weight;
      total += weight;
      if (weight > 0) weightedShift += weight * shift;
    }
    this.total = total;
    this.weightedShift = weightedShift;
  }
}

/** One histogram for all streams: apply and select calls are synchronous, so they never overlap. */
export const sharedExpHistogram = new ExpHistogram();

/**
 * Exact order statistics over one row in O(V) time with no vocabulary-sized scratch: a three-pass radix
 * select on float32 bit patterns (11 + 11 + 10 bits) into a 2048-bin histogram of counts or of probability
 * mass. Each pass keeps only the elements of one bin; after the third pass the 32-bit key, and so the exact
 * float value, is known.
 *
 * It is the general path, exact for any row: top-k and min_tokens_to_keep with k > 1024, and the fallback of
 * the top-p and typical cuts when thousands of scores fall into one histogram bin (`top-p-cut.ts`,
 * `typical-p.ts`); the common cases take the faster heap and histogram paths.
 *
 * NaN has the lowest key: it is never counted among the top values and carries no mass.
 */

const WIDTHS = [11, 11, 10] as const;
const SHIFTS = [21, 10, 0] as const;
const MASKS = [0x7ff, 0x7ff, 0x3ff] as const;
/** `key >>> PREFIX_SHIFTS[level]` is the part of the key fixed by earlier levels (level 0 has none). */
const PREFIX_SHIFTS = [32, 21, 10] as const;
const BINS = 2048;

const scratchFloat = new Float32Array(1);
const scratchBits = new Uint32Array(scratchFloat.buffer);

/** Maps float32 bits to an unsigned key whose order is the float order (-0 just below +0, NaN lowest). */
export function sortableKey(bits: number): number {
  if ((bits & 0x7fffffff) > 0x7f800000) return 0;
  return (bits & 0x80000000) !== 0 ? ~bits >>> 0 : (bits | 0x80000000) >>> 0;
}

/** Inverse of `sortableKey` (for non-NaN keys). */
export function keyToFloat(key: number): number {
  scratchBits[0] = (key & 0x80000000) !== 0 ? key & 0x7fffffff : ~key >>> 0;
  return scratchFloat[0]!;
}

/** The float32 bit pattern of a number (rounded to float32 first). */
export function float32Bits(value: number): number {
  scratchFloat[0] = value;
  return scratchBits[0]!;
}

/** A view of the row's bits; allocates a view object, never a buffer. */
function bitsOf(row: Float32Array): Uint32Array {
  return new Uint32Array(row.buffer, row.byteOffset, row.length);
}

/**
 * Histogram scratch for radix selection. Apply calls are synchronous, so one instance per module can be
 * shared by every stream (`sharedRadixSelect`).
 */
export class RadixSelect {
  private readonly counts = new Uint32Array(BINS);
  private readonly masses = new Float64Array(BINS);

  /** The k-th largest value of the row (1-based, ties counted: k = 1 is the maximum); k is clamped to [1, V]. */
  kthLargest(row: Float32Array, k: number): number {
    const bits = bitsOf(row);
    const counts = this.counts;
    let remaining = Math.min(Math.max(1, k), row.length);
    let prefix = 0;
    for (let level = 0; level < 3; level++) {
      const shift = SHIFTS[level]!;
      const mask = MASKS[level]!;
      const prefixShift = PREFIX_SHIFTS[level]!;
      counts.fill(0);
      if (level === 0) {
        for (let i = 0; i < bits.length; i++) counts[sortableKey(bits[i]!) >>> shift]!++;
      } else {
        for (let i = 0; i < bits.length; i++) {
          const key = sortableKey(bits[i]!);
          if (key >>> prefixShift === prefix) counts[(key >>> shift) & mask]!++;
        }
      }
      let bin = mask;
      while (bin > 0 && counts[bin]! < remaining) {
        remaining -= counts[bin]!;
        bin--;
      }
      prefix = level === 0 ? bin : ((prefix << WIDTHS[level]!) | bin) >>> 0;
    }
    return keyToFloat(prefix);
  }

  /**
   * The smallest value τ of the row such that the probability of the values `<= τ` exceeds `fraction`
   * (strictly), so that keeping `z >= τ` keeps what Hugging Face's top-p keeps: it removes the sorted
   * positions whose ascending cumulative probability is `<= 1 - top_p`. Summing from the bottom, like its
   * cumsum, keeps the tail exact (with `fraction = 0` every token of non-zero probability stays).
   * Probabilities are `exp(z - max) / Σ exp(z - max)` with a finite `max`. Returns +inf when no value
   * qualifies (`fraction >= 1`).
   */
  ascendingMassCut(row: Float32Array, max: number, fraction: number): number {
    const bits = bitsOf(row);
    const { counts, masses } = this;
    let target = 0;
    let below = 0;
    let prefix = 0;
    for (let level = 0; level < 3; level++) {
      const shift = SHIFTS[level]!;
      const mask = MASKS[level]!;
      const prefixShift = PREFIX_SHIFTS[level]!;
      counts.fill(0);
      masses.fill(0);
      if (level === 0) {
        let total = 0;
        for (let i = 0; i < bits.length; i++) {
          const value = row[i]!;
          if (value !== value) continue;
          const bin = sortableKey(bits[i]!) >>> shift;
          const weight = Math.exp(value - max);
          counts[bin]!++;
          masses[bin]! += weight;
          total += weight;
        }
        target = fraction * total;
      } else {
        for (let i = 0; i < bits.length; i++) {
          const key = sortableKey(bits[i]!);
          if (key >>> prefixShift !== prefix || key === 0) continue;
          const bin = (key >>> shift) & mask;
          counts[bin]!++;
          masses[bin]! += Math.exp(row[i]! - max);
        }
      }
      // The first bin, from the bottom, whose cumulative probability passes the target holds τ.
      let chosen = -1;
      for (let bin = 0; bin <= mask; bin++) {
        if (counts[bin] === 0) continue;
        if (below + masses[bin]! > target) {
          chosen = bin;
          break;
        }
        below += masses[bin]!;
      }
      if (chosen < 0) {
        if (level === 0) return Infinity;
        // Re-summed in another order, a bin's parts can fall an ulp short of the bin: take its last part.
        chosen = highestNonEmpty(counts, mask);
      }
      prefix = level === 0 ? chosen : ((prefix << WIDTHS[level]!) | chosen) >>> 0;
    }
    return keyToFloat(prefix);
  }

  /**
   * Selection over keys computed per element (typical sampling orders tokens by a derived score):
   * the smallest key K such that the elements with key <= K reach `target` — in count (`weightAt` null,
   * the K-th smallest key) or in weight. Returns -1 when the target is never reached.
   */
  ascendingSelect(length: number, keyAt: (index: number) => number, weightAt: ((index: number) => number) | null, target: number): number {
    const { counts, masses } = this;
    let below = 0;
    let prefix = 0;
    for (let level = 0; level < 3; level++) {
      const shift = SHIFTS[level]!;
      const mask = MASKS[level]!;
      const prefixShift = PREFIX_SHIFTS[level]!;
      counts.fill(0);
      masses.fill(0);
      for (let i = 0; i < length; i++) {
        const key = keyAt(i);
        if (key === 0 || (level > 0 && key >>> prefixShift !== prefix)) continue;
        const bin = (key >>> shift) & mask;
        counts[bin]!++;
        if (weightAt !== null) masses[bin]! += weightAt(i);
      }
      let chosen = -1;
      for (let bin = 0; bin <= mask; bin++) {
        if (counts[bin] === 0) continue;
        const amount = weightAt === null ? counts[bin]! : masses[bin]!;
        if (below + amount >= target) {
          chosen = bin;
          break;
        }
        below += amount;
      }
      if (chosen < 0) {
        if (level === 0) return -1;
        // Re-summed in another order, a bin's parts can fall an ulp short of the bin: take its last part.
        chosen = highestNonEmpty(counts, mask);
      }
      prefix = level === 0 ? chosen : ((prefix << WIDTHS[level]!) | chosen) >>> 0;
    }
    return prefix;
  }
}

function highestNonEmpty(counts: Uint32Array, mask: number): number {
  let bin = mask;
  while (bin > 0 && counts[bin] === 0) bin--;
  return bin;
}

/** One scratch for all processors: `apply` is synchronous, so two streams never use it at once. */
export const sharedRadixSelect = new RadixSelect();

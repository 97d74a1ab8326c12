/**
 * `typical_p` (locally typical sampling): Hugging Face `TypicalLogitsWarper`.
 */
import { defineProcessor } from '../define-processor.js';
import { BINS, binOf } from '../math/exp-histogram.js';
import { float32Bits, keyToFloat, sharedRadixSelect, sortableKey } from '../math/radix-select.js';
import { exponentialSums, exponentialSumsResult, rowMaximum } from '../math/softmax-basis.js';
import type { LogitsProcessor } from '../types.js';
import { minTokensToKeep } from './min-tokens-to-keep.js';

const MEMBER_LIMIT = 4096;
const counts = new Uint32Array(BINS);
const masses = new Float64Array(BINS);
const members = new Float32Array(MEMBER_LIMIT);

/**
 * Meister et al. 2022. With `lp = log_softmax(z)` and entropy `H`, each token's surprise distance is
 * `s = |-lp - H|`. Tokens are taken by increasing s until their mass reaches `typical_p`; the token that
 * reaches it is the cut, and every token with a larger s is removed (the `min_tokens_to_keep` smallest s
 * always stay). Since -lp = max + log Σ - z, s is the distance `|C - z|` of a score to
 * `C = max + log Σ - H`, the score whose surprise equals the entropy; s is taken in float32, as Hugging Face
 * sorts it.
 *
 * Cost: one exp pass for Σ and H, one for a histogram of s weighted by probability, one over the crossing
 * bin's few scores (radix selection when it holds too many), one to remove.
 *
 * Not argmax-invariant: the most likely token can be far from typical and be removed (p = [0.4, 0.3, 0.3]
 * with typical_p = 0.2 keeps only the two 0.3 tokens).
 */
export class TypicalPProcessor implements LogitsProcessor {
  readonly name = 'typical_p';
  private readonly mass: number;

  constructor(
    mass: number,
    private readonly minTokensToKeep: number,
  ) {
    this.mass = Math.fround(mass);
  }

  apply(row: Float32Array): void {
    const max = rowMaximum(row);
    if (!Number.isFinite(max)) return;
    const sum = exponentialSums(row, max);
    // C = max + log Σ - H, and H = log Σ - (weighted / Σ).
    const center = max + exponentialSumsResult.weightedShift / sum;
    let cut = surpriseCut(row, max, center, this.mass * sum);
    if (this.minTokensToKeep > 1) cut = Math.max(cut, smallestSurprise(row, center, this.minTokensToKeep));
    removeBeyond(row, center, cut);
  }

  isArgmaxInvariant(): boolean {
    return false;
  }
}

/** Removes the tokens whose surprise `|center - z|` (in float32) exceeds `cut`. */
function removeBeyond(row: Float32Array, center: number, cut: number): void {
  for (let i = 0; i < row.length; i++) {
    if (Math.fround(Math.abs(center - row[i]!)) > cut) row[i] = -Infinity;
  }
}

/**
 * The surprise of the token at which the mass, taken by increasing surprise, first reaches `target`
 * (Hugging Face's `last_ind`); +inf when it never does (rounding), which removes nothing, as Hugging Face's
 * clamp to the last position does.
 */
function surpriseCut(row: Float32Array, max: number, center: number, target: number): number {
  counts.fill(0);
  masses.fill(0);
  for (let i = 0; i < row.length; i++) {
    const score = row[i]!;
    if (!(score > -Infinity)) continue;
    const bin = binOf(Math.fround(Math.abs(center - score)));
    counts[bin]!++;
    masses[bin]! += Math.exp(score - max);
  }
  let below = 0;
  let crossing = -1;
  for (let bin = 0; bin < BINS; bin++) {
    if (counts[bin] === 0) continue;
    if (below + masses[bin]! >= target) {
      crossing = bin;
      break;
    }
    below += masses[bin]!;
  }
  if (crossing < 0) return Infinity;
  if (counts[crossing]! > MEMBER_LIMIT) return radixSurpriseCut(row, max, center, target);

  let count = 0;
  for (let i = 0; i < row.length; i++) {
    const score = row[i]!;
    if (score > -Infinity && binOf(Math.fround(Math.abs(center - score))) === crossing) members[count++] = score;
  }
  const byProximity = members.subarray(0, count).sort((a, b) => Math.abs(center - a) - Math.abs(center - b));
  for (let i = 0; i < count; i++) {
    const score = byProximity[i]!;
    below += Math.exp(score - max);
    if (below >= target) return Math.fround(Math.abs(center - score));
  }
  return Math.fround(Math.abs(center - byProximity[count - 1]!));
}

/** `surpriseCut` by radix selection, exact for any row (used when thousands of scores share one bin). */
function radixSurpriseCut(row: Float32Array, max: number, center: number, target: number): number {
  const key = sharedRadixSelect.ascendingSelect(
    row.length,
    (i) => (row[i]! > -Infinity ? sortableKey(float32Bits(Math.abs(center - row[i]!))) : 0),
    (i) => Math.exp(row[i]! - max),
    target,
  );
  return key < 0 ? Infinity : keyToFloat(key);
}

/** The k-th smallest surprise (ties counted). */
function smallestSurprise(row: Float32Array, center: number, k: number): number {
  const key = sharedRadixSelect.ascendingSelect(
    row.length,
    (i) => (row[i]! > -Infinity ? sortableKey(float32Bits(Math.abs(center - row[i]!))) : 0),
    null,
    k,
  );
  return key < 0 ? Infinity : keyToFloat(key);
}

export const typicalP = defineProcessor({
  name: 'typical_p',
  description:
    'Keeps the tokens whose surprise is closest to the expected surprise (the entropy) until their mass ' +
    'reaches typical_p (locally typical sampling; Hugging Face TypicalLogitsWarper).',
  parameters: {
    typical_p: {
      type: 'float',
      description: 'The probability mass to keep.',
      required: true,
      min: { value: 0, inclusive: false },
      max: { value: 1, inclusive: false },
    },
    min_tokens_to_keep: minTokensToKeep,
  },
  create: (params) => new TypicalPProcessor(params.typical_p, params.min_tokens_to_keep),
});

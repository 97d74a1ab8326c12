/**
 * `typical_p` (locally typical sampling): Hugging Face `TypicalLogitsWarper`.
 */
import { defineProcessor } from '../define-processor.js';
import { float32Bits, keyToFloat, sharedRadixSelect, sortableKey } from '../math/radix-select.js';
import { rowMaximum } from '../math/softmax-basis.js';
import type { LogitsProcessor } from '../types.js';
import { minTokensToKeep } from './min-tokens-to-keep.js';

/**
 * Meister et al. 2022. With `lp = log_softmax(z)` and entropy `H`, each token gets the surprise distance
 * `s = |-lp - H|`. Tokens are taken by increasing s until their mass reaches `typical_p`; the token that
 * reaches it is the cut, and every token with a larger s is removed (the `min_tokens_to_keep` smallest s
 * always stay). The cut is found by radix selection over s, weighted by probability.
 *
 * Not argmax-invariant: the most likely token can be far from typical and be removed (p = [0.4, 0.3, 0.3]
 * with typical_p = 0.2 keeps only the two 0.3 tokens).
 */
export class TypicalPProcessor implements LogitsProcessor {
  readonly name = 'typical_p';
  private readonly mass: number;
  // Per-call values read by the key and weight callbacks (kept as fields so the callbacks are created once).
  private row: Float32Array = new Float32Array(0);
  private max = 0;
  private logSum = 0;
  private entropy = 0;
  private readonly keyAt = (index: number): number => sortableKey(float32Bits(this.surprise(this.row[index]!)));
  private readonly weightAt = (index: number): number => Math.exp(this.row[index]! - this.max);

  constructor(
    mass: number,
    private readonly minTokensToKeep: number,
  ) {
    this.mass = Math.fround(mass);
  }

  apply(row: Float32Array): void {
    const max = rowMaximum(row);
    if (!Number.isFinite(max)) return;
    let sum = 0;
    let weighted = 0;
    for (let i = 0; i < row.length; i++) {
      const shifted = row[i]! - max;
      const weight = Math.exp(shifted);
      sum += weight;
      // -inf entries have weight 0 and count for nothing (Hugging Face's `nansum`).
      if (weight > 0) weighted += weight * shifted;
    }
    this.row = row;
    this.max = max;
    this.logSum = Math.log(sum);
    this.entropy = this.logSum - weighted / sum;
    try {
      const cutKey = sharedRadixSelect.ascendingSelect(row.length, this.keyAt, this.weightAt, this.mass * sum);
      // Never reaching the mass (rounding) means Hugging Face's clamp to the last position: nothing removed.
      if (cutKey < 0) return;
      let cut = keyToFloat(cutKey);
      if (this.minTokensToKeep > 1) {
        const keepKey = sharedRadixSelect.ascendingSelect(row.length, this.keyAt, null, this.minTokensToKeep);
        if (keepKey >= 0) cut = Math.max(cut, keyToFloat(keepKey));
      }
      for (let i = 0; i < row.length; i++) {
        if (Math.fround(this.surprise(row[i]!)) > cut) row[i] = -Infinity;
      }
    } finally {
      this.row = new Float32Array(0);
    }
  }

  isArgmaxInvariant(): boolean {
    return false;
  }

  /** |-log p - H| for one score (+inf for a -inf score). */
  private surprise(score: number): number {
    return Math.abs(this.logSum - (score - this.max) - this.entropy);
  }
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

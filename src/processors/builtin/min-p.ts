/**
 * `min_p`: Hugging Face `MinPLogitsWarper`.
 */
import { defineProcessor } from '../define-processor.js';
import { kthLargest } from '../math/kth-largest.js';
import { rowMaximum } from '../math/softmax-basis.js';
import type { LogitsProcessor } from '../types.js';
import { minTokensToKeep } from './min-tokens-to-keep.js';

/**
 * Removes tokens whose probability is below `min_p` times the top probability (Nguyen et al. 2024). Since
 * p[t] / p_max = exp(z[t] - max), the test is `z < max + ln(min_p)`: no normalisation and no exp per token.
 * The top `min_tokens_to_keep` scores (ties included) always stay.
 */
export class MinPProcessor implements LogitsProcessor {
  readonly name = 'min_p';
  private readonly logMinP: number;

  constructor(
    minP: number,
    private readonly minTokensToKeep: number,
  ) {
    this.logMinP = Math.log(Math.fround(minP));
  }

  apply(row: Float32Array): void {
    const max = rowMaximum(row);
    if (!Number.isFinite(max)) return;
    const keepFrom = this.minTokensToKeep > 1 ? kthLargest(row, this.minTokensToKeep) : max;
    const floor = max + this.logMinP;
    for (let i = 0; i < row.length; i++) {
      const score = row[i]!;
      if (score < floor && score < keepFrom) row[i] = -Infinity;
    }
  }

  isArgmaxInvariant(): boolean {
    return true;
  }
}

export const minP = defineProcessor({
  name: 'min_p',
  description:
    'Removes tokens less likely than min_p times the most likely token (Hugging Face MinPLogitsWarper).',
  parameters: {
    min_p: {
      type: 'float',
      description: 'The fraction of the top probability a token needs to stay.',
      required: true,
      min: { value: 0, inclusive: true },
      max: { value: 1, inclusive: true },
    },
    min_tokens_to_keep: minTokensToKeep,
  },
  create: (params) => new MinPProcessor(params.min_p, params.min_tokens_to_keep),
});

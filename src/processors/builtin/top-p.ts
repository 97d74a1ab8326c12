/**
 * `top_p` (nucleus sampling): Hugging Face `TopPLogitsWarper`.
 */
import { defineProcessor } from '../define-processor.js';
import { kthLargest } from '../math/kth-largest.js';
import { topPCut } from '../math/top-p-cut.js';
import { rowMaximum } from '../math/softmax-basis.js';
import type { LogitsProcessor } from '../types.js';
import { minTokensToKeep } from './min-tokens-to-keep.js';

/**
 * Keeps the smallest top set of tokens whose probability mass reaches p (Holtzman et al. 2019). As in
 * Hugging Face, a token is removed when the ascending cumulative probability up to it is `<= 1 - top_p`,
 * compared with `float32(1 - top_p)`; the sums run from the least likely token up, like its cumsum, so the
 * tail is exact and `top_p = 1` removes nothing. Tokens tied with the last kept one are all kept (PyTorch's
 * unstable sort makes Hugging Face's choice among them unspecified). The cut is found in O(V) without
 * sorting the row (`top-p-cut.ts`).
 */
export class TopPProcessor implements LogitsProcessor {
  readonly name = 'top_p';
  private readonly removedMass: number;

  constructor(
    topP: number,
    private readonly minTokensToKeep: number,
  ) {
    this.removedMass = Math.fround(1 - topP);
  }

  apply(row: Float32Array): void {
    const max = rowMaximum(row);
    if (!Number.isFinite(max)) return;
    let cut = topPCut(row, max, this.removedMass);
    if (this.minTokensToKeep > 1) cut = Math.min(cut, kthLargest(row, this.minTokensToKeep));
    else cut = Math.min(cut, max);
    for (let i = 0; i < row.length; i++) if (row[i]! < cut) row[i] = -Infinity;
  }

  isArgmaxInvariant(): boolean {
    return true;
  }
}

export const topP = defineProcessor({
  name: 'top_p',
  description:
    'Keeps the smallest set of most likely tokens whose probability mass reaches top_p (nucleus sampling; ' +
    'Hugging Face TopPLogitsWarper).',
  parameters: {
    top_p: {
      type: 'float',
      description: 'The probability mass to keep.',
      required: true,
      min: { value: 0, inclusive: false },
      max: { value: 1, inclusive: true },
      boundReason:
        'Hugging Face ignores top_p > 1 without a word, and top_p = 0 keeps only the most likely token: ' +
        'ask for greedy selection instead',
    },
    min_tokens_to_keep: minTokensToKeep,
  },
  create: (params) => new TopPProcessor(params.top_p, params.min_tokens_to_keep),
});

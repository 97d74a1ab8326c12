/**
 * `top_k`: Hugging Face `TopKLogitsWarper`.
 */
import { defineProcessor } from '../define-processor.js';
import { kthLargest } from '../math/kth-largest.js';
import type { LogitsProcessor } from '../types.js';
import { minTokensToKeep } from './min-tokens-to-keep.js';

/**
 * Removes every token scoring strictly below the k-th highest score, k = max(top_k, min_tokens_to_keep).
 * Ties at the k-th score are all kept, as in Hugging Face (transformers.js keeps exactly k). The k-th value
 * is found in O(V) without sorting or copying the row (a k-sized heap, or radix selection for large k).
 */
export class TopKProcessor implements LogitsProcessor {
  readonly name = 'top_k';

  constructor(private readonly k: number) {}

  apply(row: Float32Array): void {
    if (this.k >= row.length) return;
    const kth = kthLargest(row, this.k);
    for (let i = 0; i < row.length; i++) if (row[i]! < kth) row[i] = -Infinity;
  }

  isArgmaxInvariant(): boolean {
    return true;
  }
}

export const topK = defineProcessor({
  name: 'top_k',
  description: 'Keeps the k highest-scoring tokens, ties at the k-th score included (Hugging Face TopKLogitsWarper).',
  parameters: {
    top_k: {
      type: 'int',
      description: 'How many tokens to keep.',
      required: true,
      min: { value: 1, inclusive: true },
    },
    min_tokens_to_keep: minTokensToKeep,
  },
  create: (params) => new TopKProcessor(Math.max(params.top_k, params.min_tokens_to_keep)),
});

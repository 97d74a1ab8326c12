/**
 * Processors that rewrite the whole row's numbers: `renormalize_logits` and `remove_invalid_values`
 * (Hugging Face `LogitNormalization`, `InfNanRemoveLogitsProcessor`).
 */
import { defineProcessor } from '../define-processor.js';
import { rowMaximum, sumExp } from '../math/softmax-basis.js';
import type { LogitsProcessor } from '../types.js';

const FLOAT32_MAX = 3.4028234663852886e38;

/**
 * Replaces the scores by log-probabilities: `z - logsumexp(z)`, the sum taken in float64 around the maximum.
 * A row PyTorch's `log_softmax` turns into NaN (all -inf, or any NaN / +inf) becomes all NaN here too.
 */
export class RenormalizeLogitsProcessor implements LogitsProcessor {
  readonly name = 'renormalize_logits';

  apply(row: Float32Array): void {
    const max = rowMaximum(row);
    if (!Number.isFinite(max)) {
      row.fill(NaN);
      return;
    }
    const logSumExp = max + Math.log(sumExp(row, max));
    for (let i = 0; i < row.length; i++) row[i] = row[i]! - logSumExp;
  }

  isArgmaxInvariant(): boolean {
    return true;
  }
}

/** NaN → 0, +inf → the largest float32, -inf → the lowest float32. */
export class RemoveInvalidValuesProcessor implements LogitsProcessor {
  readonly name = 'remove_invalid_values';

  apply(row: Float32Array): void {
    for (let i = 0; i < row.length; i++) {
      const score = row[i]!;
      if (score !== score) row[i] = 0;
      else if (score === Infinity) row[i] = FLOAT32_MAX;
      else if (score === -Infinity) row[i] = -FLOAT32_MAX;
    }
  }

  isArgmaxInvariant(): boolean {
    return false;
  }
}

export const renormalizeLogits = defineProcessor({
  name: 'renormalize_logits',
  description: 'Turns the scores into log-probabilities (log-softmax); put it last (Hugging Face LogitNormalization).',
  parameters: {},
  create: () => new RenormalizeLogitsProcessor(),
});

export const removeInvalidValues = defineProcessor({
  name: 'remove_invalid_values',
  description:
    'Replaces NaN by 0 and ±inf by the largest finite float32 of the same sign (Hugging Face InfNanRemoveLogitsProcessor).',
  parameters: {},
  create: () => new RemoveInvalidValuesProcessor(),
});

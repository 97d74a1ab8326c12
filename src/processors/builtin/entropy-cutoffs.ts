/**
 * Truncation by an absolute probability floor: `epsilon_cutoff` and `eta_cutoff` (Hewitt et al. 2022),
 * Hugging Face `EpsilonLogitsWarper` and `EtaLogitsWarper`.
 */
import { defineProcessor } from '../define-processor.js';
import { kthLargest } from '../math/kth-largest.js';
import { exponentialSums, exponentialSumsResult, rowMaximum, sumExp } from '../math/softmax-basis.js';
import type { LogitsProcessor } from '../types.js';
import { minTokensToKeep } from './min-tokens-to-keep.js';

const OPEN_UNIT_INTERVAL = {
  min: { value: 0, inclusive: false },
  max: { value: 1, inclusive: false },
} as const;

/**
 * Removes tokens with probability below `floor`, except the top `keep` scores (ties included). With
 * p = exp(z - max) / sum, `p < floor` is `z < max + ln(floor · sum)`: one comparison per token.
 */
function removeBelowProbability(row: Float32Array, max: number, sum: number, floor: number, keep: number): void {
  const keepFrom = keep > 1 ? kthLargest(row, keep) : max;
  const scoreFloor = max + Math.log(floor * sum);
  for (let i = 0; i < row.length; i++) {
    const score = row[i]!;
    if (score < scoreFloor && score < keepFrom) row[i] = -Infinity;
  }
}

/** Hugging Face `EpsilonLogitsWarper`: removes tokens with probability below ε. */
export class EpsilonCutoffProcessor implements LogitsProcessor {
  readonly name = 'epsilon_cutoff';
  private readonly epsilon: number;

  constructor(
    epsilon: number,
    private readonly minTokensToKeep: number,
  ) {
    this.epsilon = Math.fround(epsilon);
  }

  apply(row: Float32Array): void {
    const max = rowMaximum(row);
    if (!Number.isFinite(max)) return;
    removeBelowProbability(row, max, sumExp(row, max), this.epsilon, this.minTokensToKeep);
  }

  isArgmaxInvariant(): boolean {
    return true;
  }
}

/**
 * Hugging Face `EtaLogitsWarper`: removes tokens with probability below η = min(ε, √ε·e^(−H)), H the
 * entropy of the distribution. The arithmetic follows PyTorch's float32 tensors: ε, √ε, e^(−H) and their
 * product are each rounded to float32.
 */
export class EtaCutoffProcessor implements LogitsProcessor {
  readonly name = 'eta_cutoff';
  private readonly epsilon: number;
  private readonly sqrtEpsilon: number;

  constructor(
    epsilon: number,
    private readonly minTokensToKeep: number,
  ) {
    this.epsilon = Math.fround(epsilon);
    this.sqrtEpsilon = Math.fround(Math.sqrt(this.epsilon));
  }

  apply(row: Float32Array): void {
    const max = rowMaximum(row);
    if (!Number.isFinite(max)) return;
    const sum = exponentialSums(row, max);
    const entropy = Math.log(sum) - exponentialSumsResult.weightedShift / sum;
    const eta = Math.min(this.epsilon, Math.fround(this.sqrtEpsilon * Math.fround(Math.exp(-entropy))));
    removeBelowProbability(row, max, sum, eta, this.minTokensToKeep);
  }

  isArgmaxInvariant(): boolean {
    return true;
  }
}

export const epsilonCutoff = defineProcessor({
  name: 'epsilon_cutoff',
  description: 'Removes tokens whose probability is below epsilon_cutoff (Hugging Face EpsilonLogitsWarper).',
  parameters: {
    epsilon_cutoff: { type: 'float', description: 'The probability floor.', required: true, ...OPEN_UNIT_INTERVAL },
    min_tokens_to_keep: minTokensToKeep,
  },
  create: (params) => new EpsilonCutoffProcessor(params.epsilon_cutoff, params.min_tokens_to_keep),
});

export const etaCutoff = defineProcessor({
  name: 'eta_cutoff',
  description:
    'Removes tokens whose probability is below min(eta_cutoff, sqrt(eta_cutoff)·exp(-entropy)) ' +
    '(eta sampling; Hugging Face EtaLogitsWarper).',
  parameters: {
    eta_cutoff: { type: 'float', description: 'The ε of eta sampling.', required: true, ...OPEN_UNIT_INTERVAL },
    min_tokens_to_keep: minTokensToKeep,
  },
  create: (params) => new EtaCutoffProcessor(params.eta_cutoff, params.min_tokens_to_keep),
});

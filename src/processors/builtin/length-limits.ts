/**
 * Processors acting on EOS according to the output's length: `min_length`, `min_new_tokens` and
 * `exponential_decay_length_penalty` (Hugging Face `MinLengthLogitsProcessor`,
 * `MinNewTokensLengthLogitsProcessor`, `ExponentialDecayLengthPenalty`). Lengths count the decoder history,
 * start token included, as Hugging Face's `cur_len` does.
 */
import { defineProcessor } from '../define-processor.js';
import type { LogitsProcessor, StepContext } from '../types.js';

const NON_NEGATIVE = { value: 0, inclusive: true } as const;

/** EOS is set to -inf while the history is shorter than `min_length` (so EOS is at earliest token min_length - 1 of the output). */
export class MinLengthProcessor implements LogitsProcessor {
  readonly name = 'min_length';

  constructor(
    private readonly minLength: number,
    private readonly eosTokenId: number,
  ) {}

  apply(row: Float32Array, { history }: StepContext): void {
    if (history.length < this.minLength) row[this.eosTokenId] = -Infinity;
  }

  isArgmaxInvariant(): boolean {
    return false;
  }

  lowersOnly(): readonly number[] {
    return [this.eosTokenId];
  }
}

/** EOS is set to -inf until `min_new_tokens` tokens were generated after the decoder prompt. */
export class MinNewTokensProcessor implements LogitsProcessor {
  readonly name = 'min_new_tokens';

  constructor(
    private readonly minNewTokens: number,
    private readonly promptLength: number,
    private readonly eosTokenId: number,
  ) {}

  apply(row: Float32Array, { history }: StepContext): void {
    if (history.length - this.promptLength < this.minNewTokens) row[this.eosTokenId] = -Infinity;
  }

  isArgmaxInvariant(): boolean {
    return false;
  }

  lowersOnly(): readonly number[] {
    return [this.eosTokenId];
  }
}

/**
 * After `start_index` generated tokens, EOS gains `|z| · (decay_factor^k − 1)` at the k-th further step, so
 * its score grows exponentially whatever its sign. The power is taken in double precision and rounded to
 * float32, like the Python scalar Hugging Face multiplies a float32 tensor with.
 */
export class ExponentialDecayLengthPenaltyProcessor implements LogitsProcessor {
  readonly name = 'exponential_decay_length_penalty';
  private readonly regulationStart: number;

  constructor(
    startIndex: number,
    private readonly decayFactor: number,
    promptLength: number,
    private readonly eosTokenId: number,
  ) {
    this.regulationStart = startIndex + promptLength;
  }

  apply(row: Float32Array, { history }: StepContext): void {
    const currentLength = history.length;
    if (currentLength <= this.regulationStart) return;
    const growth = Math.fround(Math.pow(this.decayFactor, currentLength - this.regulationStart) - 1);
    const score = row[this.eosTokenId]!;
    row[this.eosTokenId] = score + Math.fround(Math.abs(score) * growth);
  }

  isArgmaxInvariant(): boolean {
    return false;
  }
}

export const minLength = defineProcessor({
  name: 'min_length',
  description:
    'Sets EOS to -inf while the decoder history (start token included) is shorter than min_length ' +
    '(Hugging Face MinLengthLogitsProcessor).',
  parameters: {
    min_length: {
      type: 'int',
      description: 'Minimum length of the decoder sequence, start token included.',
      required: true,
      min: NON_NEGATIVE,
    },
  },
  create: (params, context) => new MinLengthProcessor(params.min_length, context.eosTokenId),
});

export const minNewTokens = defineProcessor({
  name: 'min_new_tokens',
  description:
    'Sets EOS to -inf until min_new_tokens tokens were generated after the decoder prompt ' +
    '(Hugging Face MinNewTokensLengthLogitsProcessor).',
  parameters: {
    min_new_tokens: {
      type: 'int',
      description: 'Minimum number of generated tokens before EOS.',
      required: true,
      min: NON_NEGATIVE,
    },
  },
  create: (params, context) =>
    new MinNewTokensProcessor(params.min_new_tokens, context.decoderPromptLength, context.eosTokenId),
});

export const exponentialDecayLengthPenalty = defineProcessor({
  name: 'exponential_decay_length_penalty',
  description:
    'Raises the EOS score exponentially once start_index tokens were generated ' +
    '(Hugging Face ExponentialDecayLengthPenalty).',
  parameters: {
    start_index: {
      type: 'int',
      description: 'Generated tokens after which the penalty starts.',
      required: true,
      min: NON_NEGATIVE,
    },
    decay_factor: {
      type: 'float',
      description: 'Growth factor per step; > 1 makes EOS ever more likely.',
      required: true,
      min: { value: 0, inclusive: false },
    },
  },
  create: (params, context) =>
    new ExponentialDecayLengthPenaltyProcessor(
      params.start_index,
      params.decay_factor,
      context.decoderPromptLength,
      context.eosTokenId,
    ),
});

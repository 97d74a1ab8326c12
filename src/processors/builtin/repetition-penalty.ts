/**
 * Penalties on tokens already seen: `repetition_penalty` (decoder history) and
 * `encoder_repetition_penalty` (encoder input).
 */
import { defineProcessor } from '../define-processor.js';
import type { LogitsProcessor, StepContext } from '../types.js';
import { DistinctTokens, distinctSorted } from './token-id-set.js';

const POSITIVE = { value: 0, inclusive: false } as const;

/**
 * Hugging Face `RepetitionPenaltyLogitsProcessor` (Keskar et al., CTRL): for every distinct token t of the
 * decoder history, start token included, `z[t] < 0 ? z[t]·p : z[t]/p`. A token seen twice is penalised
 * once. The penalty is rounded to float32 first, as PyTorch does with a Python scalar in a float32 op, so the
 * result matches it bit for bit on CPU.
 */
export class RepetitionPenaltyProcessor implements LogitsProcessor {
  readonly name = 'repetition_penalty';
  private readonly penalty: number;
  private readonly distinct = new DistinctTokens();

  constructor(penalty: number) {
    this.penalty = Math.fround(penalty);
  }

  apply(row: Float32Array, { history }: StepContext): void {
    const penalty = this.penalty;
    this.distinct.forEachDistinct(history, (id) => {
      if (id >= row.length) return;
      const score = row[id]!;
      row[id] = score < 0 ? score * penalty : score / penalty;
    });
  }

  isArgmaxInvariant(): boolean {
    return false;
  }
}

/**
 * Hugging Face `EncoderRepetitionPenaltyLogitsProcessor`: for every distinct token t of the encoder input
 * (`</s>` included), `z[t] < 0 ? z[t]·(1/p) : z[t]/(1/p)`, so p > 1 *favours* the prompt's tokens. Hugging
 * Face stores `1/p` computed in double precision and PyTorch rounds it to float32; so do we (not `z·p`,
 * which can differ by one ulp).
 */
export class EncoderRepetitionPenaltyProcessor implements LogitsProcessor {
  readonly name = 'encoder_repetition_penalty';
  private readonly inversePenalty: number;
  private readonly encoderTokens: Int32Array;

  constructor(penalty: number, encoderInputIds: readonly number[]) {
    this.inversePenalty = Math.fround(1 / penalty);
    this.encoderTokens = distinctSorted(encoderInputIds);
  }

  apply(row: Float32Array): void {
    const inverse = this.inversePenalty;
    const tokens = this.encoderTokens;
    for (let i = 0; i < tokens.length; i++) {
      const id = tokens[i]!;
      if (id >= row.length) continue;
      const score = row[id]!;
      row[id] = score < 0 ? score * inverse : score / inverse;
    }
  }

  isArgmaxInvariant(): boolean {
    return false;
  }
}

export const repetitionPenalty = defineProcessor({
  name: 'repetition_penalty',
  description:
    'Penalises every token already in the decoder history (start token included), once per token: a positive ' +
    'score is divided by the penalty, a negative one multiplied (Hugging Face RepetitionPenaltyLogitsProcessor).',
  parameters: {
    repetition_penalty: {
      type: 'float',
      description: 'The penalty; > 1 discourages repetition, < 1 encourages it, 1 changes nothing.',
      required: true,
      min: POSITIVE,
    },
  },
  create: (params) => new RepetitionPenaltyProcessor(params.repetition_penalty),
});

export const encoderRepetitionPenalty = defineProcessor({
  name: 'encoder_repetition_penalty',
  description:
    'Favours the tokens of the encoder input (`</s>` included) for penalties > 1: a positive score is multiplied ' +
    'by the penalty, a negative one divided (Hugging Face EncoderRepetitionPenaltyLogitsProcessor).',
  parameters: {
    encoder_repetition_penalty: {
      type: 'float',
      description: 'The penalty; > 1 keeps the output closer to the input, < 1 pushes it away.',
      required: true,
      min: POSITIVE,
    },
  },
  create: (params, context) => new EncoderRepetitionPenaltyProcessor(params.encoder_repetition_penalty, context.encoderInputIds),
});

/**
 * N-gram bans: `no_repeat_ngram_size` (over the decoder history) and `encoder_no_repeat_ngram_size` (over
 * the encoder input), Hugging Face `NoRepeatNGramLogitsProcessor` and `EncoderNoRepeatNGramLogitsProcessor`.
 * Both scan their source directly each step (O(length · n), no allocation) instead of keeping an n-gram
 * table: the decoder history changes under rewinds, and a scan of a few hundred ids costs less than a copy
 * of the row.
 */
import { defineProcessor } from '../define-processor.js';
import type { LogitsProcessor, StepContext } from '../types.js';

/**
 * Bans every token that would complete an n-gram already present in `source`, where the n-gram's first
 * n - 1 tokens are the last n - 1 tokens of `history`. With n = 1 every token of `source` is banned.
 */
function banRepeatedNgrams(row: Float32Array, source: readonly number[], history: readonly number[], n: number): void {
  const prefixStart = history.length - (n - 1);
  if (prefixStart < 0) return;
  for (let start = 0; start + n <= source.length; start++) {
    let matches = true;
    for (let offset = 0; offset < n - 1; offset++) {
      if (source[start + offset] !== history[prefixStart + offset]) {
        matches = false;
        break;
      }
    }
    if (matches) {
      const banned = source[start + n - 1]!;
      if (banned < row.length) row[banned] = -Infinity;
    }
  }
}

/**
 * No n-gram occurs twice in the decoder history (start token included): with the last n - 1 tokens as a
 * prefix, every token that followed that prefix before is banned. Nothing is banned while the history is
 * shorter than n.
 */
export class NoRepeatNgramProcessor implements LogitsProcessor {
  readonly name = 'no_repeat_ngram_size';

  constructor(private readonly n: number) {}

  apply(row: Float32Array, { history }: StepContext): void {
    if (history.length < this.n) return;
    banRepeatedNgrams(row, history, history, this.n);
  }

  isArgmaxInvariant(): boolean {
    return false;
  }
}

/**
 * No n-gram of the encoder input (`</s>` included, so EOS can be banned) is copied into the output: with
 * the last n - 1 generated tokens as a prefix, every token that follows that prefix in the input is banned.
 */
export class EncoderNoRepeatNgramProcessor implements LogitsProcessor {
  readonly name = 'encoder_no_repeat_ngram_size';

  constructor(
    private readonly n: number,
    private readonly encoderInputIds: readonly number[],
  ) {}

  apply(row: Float32Array, { history }: StepContext): void {
    banRepeatedNgrams(row, this.encoderInputIds, history, this.n);
  }

  isArgmaxInvariant(): boolean {
    return false;
  }
}

export const noRepeatNgramSize = defineProcessor({
  name: 'no_repeat_ngram_size',
  description:
    'Bans every token that would repeat an n-gram of the decoder history, start token included ' +
    '(Hugging Face NoRepeatNGramLogitsProcessor).',
  parameters: {
    no_repeat_ngram_size: {
      type: 'int',
      description: 'The n-gram length n.',
      required: true,
      min: { value: 1, inclusive: true },
    },
  },
  create: (params) => new NoRepeatNgramProcessor(params.no_repeat_ngram_size),
});

export const encoderNoRepeatNgramSize = defineProcessor({
  name: 'encoder_no_repeat_ngram_size',
  description:
    'Bans every token that would copy an n-gram of the encoder input into the output ' +
    '(Hugging Face EncoderNoRepeatNGramLogitsProcessor).',
  parameters: {
    encoder_no_repeat_ngram_size: {
      type: 'int',
      description: 'The n-gram length n.',
      required: true,
      min: { value: 1, inclusive: true },
    },
  },
  create: (params, context) => new EncoderNoRepeatNgramProcessor(params.encoder_no_repeat_ngram_size, context.encoderInputIds),
});

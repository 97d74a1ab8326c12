/**
 * Biases on token sequences: `sequence_bias` (a logit bias is its single-token case) and `bad_words_ids`
 * (the same with a bias of -inf), Hugging Face `SequenceBiasLogitsProcessor` and `NoBadWordsLogitsProcessor`.
 */
import { defineProcessor } from '../define-processor.js';
import { PROCESSOR_LIMITS } from '../limits.js';
import type { SequenceBiasEntry } from '../parameters.js';
import type { LogitsProcessor, StepContext } from '../types.js';

interface CompiledSequence {
  /** The tokens that must end the history for the bias to apply. */
  readonly prefix: Int32Array;
  /** Index of the biased token in `targets`. */
  readonly target: number;
  readonly bias: number;
}

/**
 * A single-token entry always adds its bias; a longer entry adds it to its last token when the history ends
 * with the entry's other tokens — and, as in Hugging Face, only when the entry is not longer than the
 * history. Biases on one token add up in float32, single-token ones first, then the others in the given
 * order, and the sum is added once: the same roundings as Hugging Face's bias tensor.
 */
export class SequenceBiasProcessor implements LogitsProcessor {
  private readonly targets: Int32Array;
  private readonly singleBias: Float64Array;
  private readonly hasSingle: Uint8Array;
  private readonly sequences: readonly CompiledSequence[];
  private readonly sums: Float64Array;
  private readonly touched: Uint8Array;

  constructor(
    readonly name: string,
    entries: readonly SequenceBiasEntry[],
  ) {
    const targetIndex = new Map<number, number>();
    const indexOf = (token: number): number => {
      let index = targetIndex.get(token);
      if (index === undefined) targetIndex.set(token, (index = targetIndex.size));
      return index;
    };
    const singles = entries.filter((entry) => entry.tokenIds.length === 1);
    const longer = entries.filter((entry) => entry.tokenIds.length > 1);
    for (const entry of entries) indexOf(entry.tokenIds[entry.tokenIds.length - 1]!);
    this.targets = Int32Array.from(targetIndex.keys());
    this.singleBias = new Float64Array(this.targets.length);
    this.hasSingle = new Uint8Array(this.targets.length);
    for (const entry of singles) {
      const index = indexOf(entry.tokenIds[0]!);
      this.singleBias[index] = Math.fround(entry.bias);
      this.hasSingle[index] = 1;
    }
    this.sequences = longer.map((entry) => ({
      prefix: Int32Array.from(entry.tokenIds.slice(0, -1)),
      target: indexOf(entry.tokenIds[entry.tokenIds.length - 1]!),
      bias: Math.fround(entry.bias),
    }));
    this.sums = new Float64Array(this.targets.length);
    this.touched = new Uint8Array(this.targets.length);
  }

  apply(row: Float32Array, { history }: StepContext): void {
    const { sums, touched, targets } = this;
    sums.set(this.singleBias);
    touched.set(this.hasSingle);
    for (const sequence of this.sequences) {
      if (sequence.prefix.length + 1 > history.length || !endsWith(history, sequence.prefix)) continue;
      sums[sequence.target] = Math.fround(sums[sequence.target]! + sequence.bias);
      touched[sequence.target] = 1;
    }
    for (let i = 0; i < targets.length; i++) {
      const token = targets[i]!;
      if (touched[i] === 1 && token < row.length) row[token] = row[token]! + sums[i]!;
    }
  }

  isArgmaxInvariant(): boolean {
    return false;
  }
}

/** Compared from the end: histories that differ from a sequence mostly differ in their last tokens. */
function endsWith(history: readonly number[], suffix: Int32Array): boolean {
  const offset = history.length - suffix.length;
  for (let i = suffix.length - 1; i >= 0; i--) if (history[offset + i] !== suffix[i]) return false;
  return true;
}

export const sequenceBias = defineProcessor({
  name: 'sequence_bias',
  description:
    'Adds a bias to the last token of each given sequence when the history ends with the rest of it; a ' +
    'one-token sequence is a plain logit bias (Hugging Face SequenceBiasLogitsProcessor).',
  parameters: {
    sequence_bias: {
      type: 'sequence_bias_list',
      description: 'Pairs [token ids, bias]; the bias is added to the last id.',
      required: true,
      nonEmpty: true,
      tokenIds: true,
      maxItems: PROCESSOR_LIMITS.tokenSequences,
      maxInnerItems: PROCESSOR_LIMITS.tokenSequenceLength,
    },
  },
  check(params, _context, reject) {
    const seen = new Set<string>();
    params.sequence_bias.forEach((entry, index) => {
      const zero = entry.tokenIds.indexOf(0);
      if (zero >= 0) {
        reject(
          'sequence_bias',
          `\`sequence_bias[${index}][0][${zero}]\` must be >= 1; given 0 (Hugging Face's list form refuses token 0)`,
        );
      }
      const key = entry.tokenIds.join(',');
      if (seen.has(key)) {
        reject(
          'sequence_bias',
          `\`sequence_bias[${index}]\` repeats the sequence [${key}]; Hugging Face would silently keep only the ` +
            'last bias: give each sequence once',
        );
      }
      seen.add(key);
    });
  },
  create: (params) => new SequenceBiasProcessor('sequence_bias', params.sequence_bias),
});

export const badWordsIds = defineProcessor({
  name: 'bad_words_ids',
  description:
    'Never completes one of the given token sequences: the last token of a sequence is set to -inf when the ' +
    'history ends with the rest of it (Hugging Face NoBadWordsLogitsProcessor).',
  parameters: {
    bad_words_ids: {
      type: 'int_list_list',
      description: 'The banned token sequences.',
      required: true,
      nonEmpty: true,
      tokenIds: true,
      itemNoun: 'sequences',
      maxItems: PROCESSOR_LIMITS.tokenSequences,
      maxInnerItems: PROCESSOR_LIMITS.tokenSequenceLength,
    },
  },
  check(params, context, reject) {
    params.bad_words_ids.forEach((sequence, index) => {
      if (sequence.length === 1 && sequence[0] === context.eosTokenId) {
        reject(
          'bad_words_ids',
          `\`bad_words_ids[${index}]\` is the EOS token ${context.eosTokenId} alone, which Hugging Face silently ` +
            'drops (EOS cannot be banned this way); use `ban_tokens`, `min_length` or `min_new_tokens`',
        );
      }
    });
  },
  create: (params) =>
    new SequenceBiasProcessor(
      'bad_words_ids',
      params.bad_words_ids.map((tokenIds) => ({ tokenIds, bias: -Infinity })),
    ),
});

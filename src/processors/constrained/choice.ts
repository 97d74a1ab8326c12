/**
 * `choice`: the output must be exactly one of the given strings — T5 used as a classifier.
 */
import { defineProcessor } from '../define-processor.js';
import { count, quoted } from '../echo.js';
import { PROCESSOR_LIMITS } from '../limits.js';
import type { LogitsProcessor, StaticContext, StepContext } from '../types.js';
import { TokenTrie } from './token-trie.js';

/**
 * Builds a token trie over the tokenizer's encoding of each choice (without `</s>`). At each step the
 * generated tokens (the history after the decoder prompt) are walked down the trie; only the children of the
 * node reached may be chosen, and EOS only when that node ends a complete choice. A choice that is a prefix of
 * another (e.g. "yes" and "yes sir") allows both EOS and the continuation.
 *
 * Only each choice's own tokenization is allowed: the same string spelled with other tokens is not.
 * Generated tokens that leave the trie (a client forced one) leave nothing to choose, which ends the stream
 * with an error naming this processor rather than producing text outside the choices.
 */
export class ChoiceProcessor implements LogitsProcessor {
  readonly name = 'choice';
  private readonly saved: Float32Array;

  /** `trie` is only read, so one trie serves every instance built from the same choices. */
  constructor(
    private readonly trie: TokenTrie,
    private readonly eosTokenId: number,
    private readonly promptLength: number,
  ) {
    this.saved = new Float32Array(trie.widestNode + 1);
  }

  apply(row: Float32Array, { history }: StepContext): void {
    const { trie } = this;
    let node = TokenTrie.ROOT;
    for (let i = this.promptLength; i < history.length && node !== TokenTrie.NONE; i++) node = trie.child(node, history[i]!);
    if (node === TokenTrie.NONE) {
      row.fill(-Infinity);
      return;
    }
    // Keep the allowed scores aside, clear the row, put them back: O(V) with a scratch sized by the choices.
    const { tokens } = trie;
    const first = trie.firstChild(node);
    const end = trie.endOfChildren(node);
    const complete = trie.isComplete(node);
    for (let i = first; i < end; i++) this.saved[i - first] = row[tokens[i]!]!;
    const eosScore = row[this.eosTokenId]!;
    row.fill(-Infinity);
    for (let i = first; i < end; i++) row[tokens[i]!] = this.saved[i - first]!;
    if (complete) row[this.eosTokenId] = eosScore;
  }

  isArgmaxInvariant(): boolean {
    return false;
  }
}

const LIMITS = {
  choices: PROCESSOR_LIMITS.choices,
  characters: PROCESSOR_LIMITS.choiceCharacters,
};

export const choice = defineProcessor({
  name: 'choice',
  description:
    'The output must be exactly one of the given strings: only tokens continuing a choice may be chosen, and ' +
    `EOS only once a whole choice was generated. At most ${count(LIMITS.choices)} choices of ` +
    `${count(LIMITS.characters)} characters in all.`,
  parameters: {
    choices: {
      type: 'string_list',
      description: 'The allowed outputs.',
      required: true,
      nonEmpty: true,
      itemNoun: 'choices',
      maxItems: LIMITS.choices,
      maxCharacters: LIMITS.characters,
      maxTotalCharacters: LIMITS.characters,
    },
  },
  prepare(params, context, reject) {
    const encoded = params.choices.map((text, index) => checkedEncoding(text, index, context, reject));
    return TokenTrie.of(encoded);
  },
  create: (params, context, trie) => new ChoiceProcessor(trie, context.eosTokenId, context.decoderPromptLength),
});

/** The tokens of one choice, refused when they are none, fall outside the row or hold EOS. */
function checkedEncoding(
  text: string,
  index: number,
  context: StaticContext,
  reject: (parameter: string, detail: string) => never,
): readonly number[] {
  const ids = context.encodeText(text);
  if (ids.length === 0) reject('choices', `\`choices[${index}]\` (${quoted(text)}) encodes to no token`);
  const outside = ids.find((id) => id < 0 || id >= context.vocabSize);
  if (outside !== undefined) {
    reject('choices', `\`choices[${index}]\` encodes to token ${outside}, outside [0, ${context.vocabSize})`);
  }
  if (ids.includes(context.eosTokenId)) {
    reject('choices', `\`choices[${index}]\` encodes to the EOS token, which would end the output early`);
  }
  return ids;
}

/**
 * The `StaticContext` processors receive at `Start`: what they may know about a stream before its first
 * step (vocabulary, special ids, the encoder input, the decoder prompt and length limits, the tokenizer).
 */
import type { StaticContext } from '../processors/types.js';
import type { ModelRuntime, TextTokenizer } from '../runtime/types.js';
import type { DecodePlan } from './decode-plan.js';

export function staticContext(
  model: Pick<ModelRuntime, 'info' | 'tokenizer'>,
  plan: Pick<DecodePlan, 'inputIds' | 'decoderPrefix' | 'maxNewTokens'>,
): StaticContext {
  const { tokenizer } = model;
  const { specialIds } = model.info;
  const decoderPromptLength = 1 + plan.decoderPrefix.length;
  return {
    vocabSize: model.info.vocabSize,
    eosTokenId: specialIds.eos,
    padTokenId: specialIds.pad,
    decoderStartTokenId: specialIds.decoderStart,
    encoderInputIds: plan.inputIds,
    decoderPromptLength,
    maxLength: decoderPromptLength + plan.maxNewTokens,
    tokenString: (id) => tokenizer.tokenString(id),
    isSpecialToken: (id) => specialTokens(tokenizer).has(id),
    encodeText: (text) => {
      const ids = tokenizer.encode(text);
      if (ids[ids.length - 1] === specialIds.eos) ids.pop();
      return ids;
    },
  };
}

/**
 * Ids that decode to text only when special tokens are kept (`<pad>`, `</s>`, `<unk>`, sentinels), found
 * once per tokenizer. Ids past the tokenizer's size (padding rows of the logits) decode to nothing either.
 */
class SpecialTokenSet {
  private readonly special = new Set<number>();

  constructor(private readonly tokenizer: TextTokenizer) {
    for (let id = 0; id < tokenizer.size; id++) {
      if (tokenizer.decode([id], { skipSpecialTokens: true }) === '' && tokenizer.decode([id]) !== '') {
        this.special.add(id);
      }
    }
  }

  has(id: number): boolean {
    return id >= this.tokenizer.size || this.special.has(id);
  }
}

const specialSets = new WeakMap<TextTokenizer, SpecialTokenSet>();

function specialTokens(tokenizer: TextTokenizer): SpecialTokenSet {
  let set = specialSets.get(tokenizer);
  if (set === undefined) {
    set = new SpecialTokenSet(tokenizer);
    specialSets.set(tokenizer, set);
  }
  return set;
}

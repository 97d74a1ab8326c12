/** Builds the one `ModelInfo` a loaded model describes itself with. */
import type { ModelInfo } from './types.js';

/** The `ModelInfo` of a folder's config, generation defaults and tokenizer facts. */
export function modelInfo(parts: Omit<ModelInfo, 'vocabSize' | 'specialIds'> & {
  readonly unkId: number | undefined;
  readonly maxInputLength: number;
}): ModelInfo {
  const { name, dtype, decoderLayout, config, generation, unkId, maxInputLength } = parts;
  return {
    name,
    dtype,
    decoderLayout,
    config,
    generation,
    vocabSize: config.vocabSize,
    specialIds: {
      pad: generation.padTokenId,
      eos: generation.eosTokenIds[0]!,
      unk: unkId,
      decoderStart: generation.decoderStartTokenId,
    },
    maxInputLength,
  };
}

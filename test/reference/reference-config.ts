/**
 * The `config.json` fields the T5 reference needs, with the defaults of Hugging Face `T5Config`
 * (`configuration_t5.py`). Read here, not through the runtime, so a wrong default there shows up as a
 * disagreement instead of being shared.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export type FeedForwardKind = 'relu' | 'gated-gelu';

export interface ReferenceConfig {
  readonly vocabSize: number;
  readonly dModel: number;
  readonly dKv: number;
  readonly dFf: number;
  readonly numLayers: number;
  readonly numDecoderLayers: number;
  readonly numHeads: number;
  readonly numBuckets: number;
  readonly maxDistance: number;
  readonly layerNormEpsilon: number;
  readonly feedForward: FeedForwardKind;
  readonly tieWordEmbeddings: boolean;
  readonly eosTokenId: number;
  readonly decoderStartTokenId: number;
}

export function readReferenceConfig(modelDir: string): ReferenceConfig {
  const path = join(modelDir, 'config.json');
  const raw = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;

  const integer = (key: string, fallback?: number): number => {
    const value = raw[key] ?? fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
      throw new Error(`${path}: \`${key}\` must be a non-negative integer; given ${JSON.stringify(raw[key])}`);
    }
    return value;
  };
  const numLayers = integer('num_layers', 6);
  const padTokenId = integer('pad_token_id', 0);

  const feedForward = raw['feed_forward_proj'] ?? 'relu';
  if (feedForward !== 'relu' && feedForward !== 'gated-gelu') {
    throw new Error(`${path}: \`feed_forward_proj\` must be "relu" or "gated-gelu"; given ${JSON.stringify(feedForward)}`);
  }
  const epsilon = raw['layer_norm_epsilon'] ?? 1e-6;
  if (typeof epsilon !== 'number' || !(epsilon > 0)) {
    throw new Error(`${path}: \`layer_norm_epsilon\` must be a positive number; given ${JSON.stringify(epsilon)}`);
  }
  const tie = raw['tie_word_embeddings'] ?? true;
  if (typeof tie !== 'boolean') {
    throw new Error(`${path}: \`tie_word_embeddings\` must be a boolean; given ${JSON.stringify(tie)}`);
  }

  return {
    vocabSize: integer('vocab_size', 32128),
    dModel: integer('d_model', 512),
    dKv: integer('d_kv', 64),
    dFf: integer('d_ff', 2048),
    numLayers,
    numDecoderLayers: integer('num_decoder_layers', numLayers),
    numHeads: integer('num_heads', 8),
    numBuckets: integer('relative_attention_num_buckets', 32),
    maxDistance: integer('relative_attention_max_distance', 128),
    layerNormEpsilon: epsilon,
    feedForward,
    tieWordEmbeddings: tie,
    eosTokenId: integer('eos_token_id', 1),
    // T5 starts decoding from the pad token unless the config names another start token.
    decoderStartTokenId: integer('decoder_start_token_id', padTokenId),
  };
}

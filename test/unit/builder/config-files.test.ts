import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tinyModels } from '../../fixtures/models.js';

const readJson = (dir: string, file: string) => JSON.parse(readFileSync(join(dir, file), 'utf8')) as Record<string, unknown>;

describe('config.json', () => {
  it('carries every field transformers.js and a re-saved T5 config have, with the tiny preset\'s shapes', () => {
    expect(readJson(tinyModels.reluTied, 'config.json')).toMatchObject({
      model_type: 't5',
      architectures: ['T5ForConditionalGeneration'],
      is_encoder_decoder: true,
      num_layers: 2,
      num_decoder_layers: 2,
      num_heads: 4,
      d_model: 32,
      d_kv: 8,
      d_ff: 64,
      vocab_size: 606,
      feed_forward_proj: 'relu',
      dense_act_fn: 'relu',
      is_gated_act: false,
      tie_word_embeddings: true,
      relative_attention_num_buckets: 32,
      relative_attention_max_distance: 128,
      layer_norm_epsilon: 1e-6,
      pad_token_id: 0,
      eos_token_id: 1,
      decoder_start_token_id: 0,
      use_cache: true,
      n_positions: 512,
    });
  });

  it('names gelu_new as the activation of gated-gelu models and records untied embeddings', () => {
    expect(readJson(tinyModels.gatedUntied, 'config.json')).toMatchObject({
      feed_forward_proj: 'gated-gelu',
      dense_act_fn: 'gelu_new',
      is_gated_act: true,
      tie_word_embeddings: false,
    });
  });

  it('gives the padded fixture a vocab_size rounded up to a multiple of 64', () => {
    expect(readJson(tinyModels.padded, 'config.json').vocab_size).toBe(640);
  });
});

describe('generation_config.json', () => {
  it('sets T5\'s decoder start, end and pad ids', () => {
    expect(readJson(tinyModels.reluTied, 'generation_config.json')).toEqual({ decoder_start_token_id: 0, eos_token_id: 1, pad_token_id: 0 });
  });
});

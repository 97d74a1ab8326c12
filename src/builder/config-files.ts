/**
 * `config.json` and `generation_config.json` as transformers writes them when it re-saves a T5 model
 * (the form Optimum and transformers.js' converter leave next to the ONNX files): every field
 * explicit, including `num_decoder_layers` and `is_encoder_decoder`, which transformers.js requires.
 */
import { isGated, type ModelSpec } from './model-spec.js';

export function t5ConfigJson(spec: ModelSpec): Record<string, unknown> {
  return {
    architectures: ['T5ForConditionalGeneration'],
    classifier_dropout: 0.0,
    d_ff: spec.dFf,
    d_kv: spec.dKv,
    d_model: spec.dModel,
    decoder_start_token_id: 0,
    dense_act_fn: isGated(spec) ? 'gelu_new' : 'relu',
    dropout_rate: 0.1,
    eos_token_id: 1,
    feed_forward_proj: spec.feedForwardProj,
    initializer_factor: 1.0,
    is_encoder_decoder: true,
    is_gated_act: isGated(spec),
    layer_norm_epsilon: spec.layerNormEpsilon,
    model_type: 't5',
    n_positions: 512,
    num_decoder_layers: spec.numDecoderLayers,
    num_heads: spec.numHeads,
    num_layers: spec.numLayers,
    output_past: true,
    pad_token_id: 0,
    relative_attention_max_distance: spec.relativeAttentionMaxDistance,
    relative_attention_num_buckets: spec.relativeAttentionNumBuckets,
    tie_word_embeddings: spec.tieWordEmbeddings,
    use_cache: true,
    vocab_size: spec.vocabSize,
    // Provenance of the random weights; transformers ignores unknown keys.
    stepwise_build: { preset: spec.presetName, seed: spec.seed },
  };
}

export function generationConfigJson(): Record<string, unknown> {
  return { decoder_start_token_id: 0, eos_token_id: 1, pad_token_id: 0 };
}

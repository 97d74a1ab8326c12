/**
 * The weights of a T5ForConditionalGeneration under their Hugging Face names and `[out, in]` layouts,
 * filled from a seeded generator with the scales of Hugging Face's `T5PreTrainedModel._init_weights`
 * (factor 1) except where noted below.
 */
import type { Float32Tensor } from './safetensors.js';
import { isGated, type ModelSpec } from './model-spec.js';
import { SeededRandom } from './prng.js';

interface WeightInit {
  readonly name: string;
  readonly shape: readonly number[];
  readonly std: number;
  readonly mean: number;
}

/**
 * Departures from `_init_weights`, chosen so that a random model behaves enough like a trained one to
 * test decoding with, and so that a wrong graph shows against a reference:
 * - Layer-norm scales are drawn around 1 instead of being exactly 1: a norm that forgot its weight
 *   would otherwise still be right.
 * - The relative-attention bias is wide (std 3, not d_model**-0.5) and queries are 2x larger: attention
 *   then favours particular positions instead of averaging, and an average of the history or the input
 *   is nearly constant from step to step, which makes greedy decoding repeat one token. (Much sharper
 *   attention would make float32 rounding grow: at 2x, the ONNX logits stay within ~1e-5 of a float64
 *   reference.)
 * - The attention and feed-forward output projections are 10x larger, so that the sublayers, not the
 *   input token's own embedding, dominate the residual stream: with tied embeddings the embedding path
 *   otherwise makes every token predict itself. (RMS norms make the scale of the stream itself moot.)
 * - An untied `lm_head` is drawn with std d_model**-0.5 rather than 1, so that its logits are O(1) like
 *   the tied head's (whose input is scaled by d_model**-0.5); argmax is unaffected by this scale.
 * With these, greedy decoding of the tiny preset gives ~10 distinct tokens in 20 steps on average.
 */
const layerNormStd = 0.1;
const relativeAttentionBiasStd = 3;
const queryGain = 2;
const outputProjectionGain = 10;

/** Every weight Hugging Face saves for this spec, in its module order (the order values are drawn in). */
export function t5WeightLayout(spec: ModelSpec): WeightInit[] {
  const { dModel, dKv, dFf, numHeads, vocabSize } = spec;
  const inner = numHeads * dKv;
  const weights: WeightInit[] = [];
  const add = (name: string, shape: number[], std: number, mean = 0): void => {
    weights.push({ name, shape, std, mean });
  };
  const layerNorm = (name: string): void => add(name, [dModel], layerNormStd, 1);
  const attention = (prefix: string, withBias: boolean): void => {
    add(`${prefix}.q.weight`, [inner, dModel], queryGain * (dModel * dKv) ** -0.5);
    add(`${prefix}.k.weight`, [inner, dModel], dModel ** -0.5);
    add(`${prefix}.v.weight`, [inner, dModel], dModel ** -0.5);
    add(`${prefix}.o.weight`, [dModel, inner], outputProjectionGain * inner ** -0.5);
    if (withBias) add(`${prefix}.relative_attention_bias.weight`, [spec.relativeAttentionNumBuckets, numHeads], relativeAttentionBiasStd);
  };
  const feedForward = (prefix: string): void => {
    if (isGated(spec)) {
      add(`${prefix}.wi_0.weight`, [dFf, dModel], dModel ** -0.5);
      add(`${prefix}.wi_1.weight`, [dFf, dModel], dModel ** -0.5);
    } else {
      add(`${prefix}.wi.weight`, [dFf, dModel], dModel ** -0.5);
    }
    add(`${prefix}.wo.weight`, [dModel, dFf], outputProjectionGain * dFf ** -0.5);
  };

  add('shared.weight', [vocabSize, dModel], 1);
  for (let l = 0; l < spec.numLayers; l++) {
    const block = `encoder.block.${l}`;
    attention(`${block}.layer.0.SelfAttention`, l === 0);
    layerNorm(`${block}.layer.0.layer_norm.weight`);
    feedForward(`${block}.layer.1.DenseReluDense`);
    layerNorm(`${block}.layer.1.layer_norm.weight`);
  }
  layerNorm('encoder.final_layer_norm.weight');
  for (let l = 0; l < spec.numDecoderLayers; l++) {
    const block = `decoder.block.${l}`;
    attention(`${block}.layer.0.SelfAttention`, l === 0);
    layerNorm(`${block}.layer.0.layer_norm.weight`);
    attention(`${block}.layer.1.EncDecAttention`, false);
    layerNorm(`${block}.layer.1.layer_norm.weight`);
    feedForward(`${block}.layer.2.DenseReluDense`);
    layerNorm(`${block}.layer.2.layer_norm.weight`);
  }
  layerNorm('decoder.final_layer_norm.weight');
  if (!spec.tieWordEmbeddings) add('lm_head.weight', [vocabSize, dModel], dModel ** -0.5);
  return weights;
}

/** Draws every weight of `t5WeightLayout(spec)` from one generator seeded with `spec.seed`. */
export function initializeWeights(spec: ModelSpec): Map<string, Float32Tensor> {
  const random = new SeededRandom(spec.seed);
  const tensors = new Map<string, Float32Tensor>();
  for (const { name, shape, std, mean } of t5WeightLayout(spec)) {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    tensors.set(name, { shape, data: random.fillNormal(data, std, mean) });
  }
  return tensors;
}

/** `[rows, cols]` → `[cols, rows]`: a Linear's `[out, in]` weight becomes the right operand of MatMul. */
export function transpose2d(tensor: Float32Tensor): Float32Tensor {
  const [rows, cols] = tensor.shape as [number, number];
  const out = new Float32Array(rows * cols);
  const source = tensor.data;
  for (let r = 0; r < rows; r++) {
    const rowOffset = r * cols;
    for (let c = 0; c < cols; c++) out[c * rows + r] = source[rowOffset + c]!;
  }
  return { shape: [cols, rows], data: out };
}

/**
 * The T5 building blocks as ONNX subgraphs, following Hugging Face `modeling_t5.py` operation by
 * operation (see docs: onnx-layout.md §7): RMS layer norm, attention without 1/sqrt(d_kv) scaling, the
 * relative-position bias of block 0, relu or gated-gelu feed-forward, and the (optionally scaled) LM head.
 */
import type { GraphBuilder } from './onnx-graph.js';
import { isGated, type ModelSpec } from './model-spec.js';
import { bidirectionalBucketTable, causalBucketTable } from './relative-position-bucket.js';
import type { Float32Tensor } from './safetensors.js';
import { transpose2d } from './t5-weights.js';

/** `torch.finfo(torch.float32).min`, the additive mask value of current transformers. */
export const float32Min = -3.4028234663852886e38;

/** The model's weights under their Hugging Face names, with the MatMul-ready transposes computed once. */
export class WeightBank {
  private readonly transposes = new Map<string, Float32Tensor>();

  constructor(private readonly tensors: ReadonlyMap<string, Float32Tensor>) {}

  get(name: string): Float32Tensor {
    const tensor = this.tensors.get(name);
    if (tensor === undefined) throw new Error(`weight \`${name}\` is missing from the model's weights`);
    return tensor;
  }

  /** `[out, in]` → `[in, out]`, as an exporter stores a bias-free Linear for `x @ W.T`. */
  transposed(name: string): Float32Tensor {
    let tensor = this.transposes.get(name);
    if (tensor === undefined) {
      tensor = transpose2d(this.get(name));
      this.transposes.set(name, tensor);
    }
    return tensor;
  }
}

/** Self-attention keys/values that come from the cache rather than being computed now. */
export interface CachedKeyValue {
  readonly key: string;
  readonly value: string;
}

export interface AttentionResult {
  readonly output: string;
  /** Keys/values attended to, `[B, H, Tk, d_kv]`: the `present` tensors. */
  readonly key: string;
  readonly value: string;
}

export class T5Layers {
  constructor(
    private readonly g: GraphBuilder,
    private readonly weights: WeightBank,
    private readonly spec: ModelSpec,
  ) {}

  /** An initializer holding the weight as Hugging Face stores it. */
  weight(name: string): string {
    const { shape, data } = this.weights.get(name);
    return this.g.initializers.add(name, 'float32', shape, data);
  }

  /** A bias-free Linear, `x @ W.T`, with `W.T` stored as the initializer `<name>.T`. */
  linear(x: string, name: string): string {
    const { shape, data } = this.weights.transposed(name);
    return this.g.matMul(x, this.g.initializers.add(`${name}.T`, 'float32', shape, data));
  }

  /** `shared[ids]`; T5 does not scale embeddings by sqrt(d_model). */
  embed(ids: string): string {
    return this.g.gather(this.weight('shared.weight'), ids);
  }

  /** T5LayerNorm: `w * x / sqrt(mean(x²) + eps)`, no mean subtraction, no bias. */
  layerNorm(x: string, weightName: string): string {
    const g = this.g;
    const variance = g.reduceMean(g.mul(x, x), [-1]);
    const normalized = g.mul(x, g.reciprocal(g.sqrt(g.add(variance, g.float32Scalar(this.spec.layerNormEpsilon)))));
    return g.mul(this.weight(weightName), normalized);
  }

  /** `[B, T, H*d_kv]` → `[B, H, T, d_kv]`. */
  private splitHeads(x: string): string {
    return this.g.transpose(this.g.reshape(x, [0, -1, this.spec.numHeads, this.spec.dKv]), [0, 2, 1, 3]);
  }

  /** `[B, H, T, d_kv]` → `[B, T, H*d_kv]`. */
  private mergeHeads(x: string): string {
    return this.g.reshape(this.g.transpose(x, [0, 2, 1, 3]), [0, -1, this.spec.numHeads * this.spec.dKv]);
  }

  /** Key and value projections of `source`, head-split: what a cross-attention caches. */
  keyValue(source: string, prefix: string): CachedKeyValue {
    return {
      key: this.splitHeads(this.linear(source, `${prefix}.k.weight`)),
      value: this.splitHeads(this.linear(source, `${prefix}.v.weight`)),
    };
  }

  /**
   * T5Attention: `softmax(q kᵀ + bias) v` then the output projection. There is no 1/sqrt(d_kv): T5 folds
   * it into the initialization of `q`. `bias` already carries the additive mask.
   * Keys/values are either `given` (cross-attention from the cache), computed from `source` and
   * appended to `past` (decoder self-attention with a cache), or computed from `source` alone.
   */
  attention(options: {
    readonly hidden: string;
    readonly prefix: string;
    readonly bias: string;
    readonly source?: string;
    readonly past?: CachedKeyValue;
    readonly given?: CachedKeyValue;
  }): AttentionResult {
    const g = this.g;
    const { prefix } = options;
    const query = this.splitHeads(this.linear(options.hidden, `${prefix}.q.weight`));
    let { key, value } = options.given ?? this.keyValue(options.source ?? options.hidden, prefix);
    if (options.past !== undefined) {
      key = g.concat([options.past.key, key], 2);
      value = g.concat([options.past.value, value], 2);
    }
    const scores = g.add(g.matMul(query, g.transpose(key, [0, 1, 3, 2])), options.bias);
    const context = g.matMul(g.softmax(scores, -1), value);
    return { output: this.linear(this.mergeHeads(context), `${prefix}.o.weight`), key, value };
  }

  /** T5DenseActDense (`wo(relu(wi x))`) or T5DenseGatedActDense (`wo(gelu_new(wi_0 x) * wi_1 x)`). */
  feedForward(x: string, prefix: string): string {
    if (!isGated(this.spec)) return this.linear(this.g.relu(this.linear(x, `${prefix}.wi.weight`)), `${prefix}.wo.weight`);
    const gate = this.geluNew(this.linear(x, `${prefix}.wi_0.weight`));
    return this.linear(this.g.mul(gate, this.linear(x, `${prefix}.wi_1.weight`)), `${prefix}.wo.weight`);
  }

  /** `0.5 * x * (1 + tanh(sqrt(2/π) * (x + 0.044715 * x³)))`, in the operation order of HF `NewGELUActivation`. */
  private geluNew(x: string): string {
    const g = this.g;
    const cubic = g.mul(g.float32Scalar(0.044715), g.pow(x, g.float32Scalar(3)));
    const inner = g.mul(g.float32Scalar(Math.sqrt(2 / Math.PI)), g.add(x, cubic));
    return g.mul(g.mul(g.float32Scalar(0.5), x), g.add(g.float32Scalar(1), g.tanh(inner)));
  }

  /**
   * `relative_attention_bias[bucket]` as `[1, H, Tq, Tk]`. The bucket formula saturates for
   * |rel| >= max_distance, so looking it up in a precomputed table indexed by the clipped relative
   * position (see relative-position-bucket.ts) is exactly equivalent to evaluating it.
   */
  private biasFromBuckets(buckets: string, weightName: string): string {
    const perPosition = this.g.gather(this.weight(weightName), buckets); // [Tq, Tk, H]
    return this.g.unsqueeze(this.g.transpose(perPosition, [2, 0, 1]), [0]);
  }

  /** `(1 - mask) * finfo(float32).min` as `[B, 1, 1, S]` (HF `invert_attention_mask`). */
  paddingMask(mask: string): string {
    const g = this.g;
    const inverted = g.sub(g.float32Scalar(1), g.cast(mask, 'float32'));
    return g.unsqueeze(g.mul(inverted, g.float32Scalar(float32Min)), [1, 2]);
  }

  /** Encoder block-0 bias: bidirectional buckets over `[S, S]` plus the padding mask → `[B, H, S, S]`. */
  encoderPositionBias(inputIds: string, attentionMask: string): string {
    const g = this.g;
    const { relativeAttentionNumBuckets: buckets, relativeAttentionMaxDistance: maxDistance } = this.spec;
    const table = g.initializers.add('encoder.relative_position_bucket_table', 'int64', [2 * maxDistance + 1], bidirectionalBucketTable(buckets, maxDistance));
    const positions = g.range(g.int64Scalar(0), g.dim(inputIds, 1), g.int64Scalar(1));
    const relative = g.sub(g.unsqueeze(positions, [0]), g.unsqueeze(positions, [1])); // key - query
    const clipped = g.min(g.max(relative, g.int64Scalar(-maxDistance)), g.int64Scalar(maxDistance));
    const bucketIds = g.gather(table, g.add(clipped, g.int64Scalar(maxDistance)));
    const bias = this.biasFromBuckets(bucketIds, 'encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight');
    return g.add(bias, this.paddingMask(attentionMask));
  }

  /**
   * Decoder block-0 self-attention bias for queries at absolute positions `queryPositions` over keys at
   * `keyPositions`: causal buckets plus a causal mask (finfo.min on keys after the query) → `[1, H, Tq, Tk]`.
   */
  decoderPositionBias(queryPositions: string, keyPositions: string): string {
    const g = this.g;
    const { relativeAttentionNumBuckets: buckets, relativeAttentionMaxDistance: maxDistance } = this.spec;
    const table = g.initializers.add('decoder.relative_position_bucket_table', 'int64', [maxDistance + 1], causalBucketTable(buckets, maxDistance));
    const distance = g.sub(g.unsqueeze(queryPositions, [1]), g.unsqueeze(keyPositions, [0])); // query - key
    const clipped = g.min(g.max(distance, g.int64Scalar(0)), g.int64Scalar(maxDistance));
    const bias = this.biasFromBuckets(g.gather(table, clipped), 'decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight');
    const causalMask = g.where(g.less(distance, g.int64Scalar(0)), g.float32Scalar(float32Min), g.float32Scalar(0));
    return g.add(bias, g.unsqueeze(causalMask, [0, 1]));
  }

  /** Final logits: `h * d_model**-0.5` when the head is tied to `shared`, then `h @ lm_head.T`. */
  lmHead(hidden: string): string {
    if (!this.spec.tieWordEmbeddings) return this.linear(hidden, 'lm_head.weight');
    const scaled = this.g.mul(hidden, this.g.float32Scalar(this.spec.dModel ** -0.5));
    return this.linear(scaled, 'shared.weight');
  }
}

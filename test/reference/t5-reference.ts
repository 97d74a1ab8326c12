/**
 * An independent T5 forward pass in plain TypeScript: the yardstick the ONNX files, the runtime and the
 * server are measured against.
 *
 * It reads a model folder's `config.json` and `model.safetensors` (Hugging Face parameter names) with
 * its own reader, and follows Hugging Face `modeling_t5.py` step by step, recomputing the whole decoder
 * history at every call — no KV cache, no batching, no padding — so that none of the runtime's
 * optimisations has a counterpart here that could share its mistakes. Activations are float64.
 *
 * Usage:
 * ```ts
 * const reference = T5Reference.load('.cache/models/tiny-relu-tied');
 * const encoded = reference.encode([13, 7, 1]);
 * const logits = reference.decoderLogits(encoded, undefined, [0, 42]); // one row per decoder position
 * const tokens = reference.greedy([13, 7, 1], 12);                    // generated ids, start token excluded
 * ```
 */
import { join } from 'node:path';
import { readReferenceConfig, type ReferenceConfig } from './reference-config.js';
import {
  activations,
  addInPlace,
  argmax,
  geluNewInPlace,
  linear,
  multiplyInPlace,
  reluInPlace,
  rmsNorm,
  scaleInPlace,
  softmaxInPlace,
  type Activations,
  type Weight,
} from './reference-math.js';
import { relativePositionBucket } from './relative-position-bucket.js';
import { readSafetensors, type ReferenceTensor } from './safetensors-reader.js';

/** `torch.finfo(torch.float32).min`, the additive mask Hugging Face T5 uses for hidden keys. */
export const FLOAT32_MIN = -3.4028234663852886e38;

interface AttentionWeights {
  readonly q: Weight;
  readonly k: Weight;
  readonly v: Weight;
  readonly o: Weight;
}

type FeedForwardWeights =
  | { readonly kind: 'relu'; readonly wi: Weight; readonly wo: Weight }
  | { readonly kind: 'gated-gelu'; readonly wi0: Weight; readonly wi1: Weight; readonly wo: Weight };

interface EncoderBlock {
  readonly selfAttentionNorm: Float32Array;
  readonly selfAttention: AttentionWeights;
  readonly feedForwardNorm: Float32Array;
  readonly feedForward: FeedForwardWeights;
}

interface DecoderBlock extends EncoderBlock {
  readonly crossAttentionNorm: Float32Array;
  readonly crossAttention: AttentionWeights;
}

interface Stack<Block> {
  readonly blocks: readonly Block[];
  /** `[num_buckets, num_heads]`; only block 0 of each stack owns one, every block uses it. */
  readonly relativeAttentionBias: Weight;
  readonly finalNorm: Float32Array;
}

export class T5Reference {
  private constructor(
    readonly config: ReferenceConfig,
    private readonly shared: Weight,
    private readonly lmHead: Weight,
    private readonly encoder: Stack<EncoderBlock>,
    private readonly decoder: Stack<DecoderBlock>,
  ) {}

  /** Loads `config.json` and `model.safetensors` from a model folder. */
  static load(modelDir: string): T5Reference {
    const config = readReferenceConfig(modelDir);
    const file = join(modelDir, 'model.safetensors');
    const weights = new WeightLookup(readSafetensors(file), file);
    const { vocabSize, dModel, dFf, numHeads, numBuckets } = config;
    const inner = numHeads * config.dKv;

    const attentionAt = (prefix: string): AttentionWeights => ({
      q: weights.get(`${prefix}.q.weight`, inner, dModel),
      k: weights.get(`${prefix}.k.weight`, inner, dModel),
      v: weights.get(`${prefix}.v.weight`, inner, dModel),
      o: weights.get(`${prefix}.o.weight`, dModel, inner),
    });
    const feedForwardAt = (prefix: string): FeedForwardWeights =>
      config.feedForward === 'relu'
        ? { kind: 'relu', wi: weights.get(`${prefix}.wi.weight`, dFf, dModel), wo: weights.get(`${prefix}.wo.weight`, dModel, dFf) }
        : {
            kind: 'gated-gelu',
            wi0: weights.get(`${prefix}.wi_0.weight`, dFf, dModel),
            wi1: weights.get(`${prefix}.wi_1.weight`, dFf, dModel),
            wo: weights.get(`${prefix}.wo.weight`, dModel, dFf),
          };
    const norm = (name: string): Float32Array => weights.vector(name, dModel);

    const encoderBlocks: EncoderBlock[] = [];
    for (let l = 0; l < config.numLayers; l++) {
      const block = `encoder.block.${l}`;
      encoderBlocks.push({
        selfAttentionNorm: norm(`${block}.layer.0.layer_norm.weight`),
        selfAttention: attentionAt(`${block}.layer.0.SelfAttention`),
        feedForwardNorm: norm(`${block}.layer.1.layer_norm.weight`),
        feedForward: feedForwardAt(`${block}.layer.1.DenseReluDense`),
      });
    }
    const decoderBlocks: DecoderBlock[] = [];
    for (let l = 0; l < config.numDecoderLayers; l++) {
      const block = `decoder.block.${l}`;
      decoderBlocks.push({
        selfAttentionNorm: norm(`${block}.layer.0.layer_norm.weight`),
        selfAttention: attentionAt(`${block}.layer.0.SelfAttention`),
        crossAttentionNorm: norm(`${block}.layer.1.layer_norm.weight`),
        crossAttention: attentionAt(`${block}.layer.1.EncDecAttention`),
        feedForwardNorm: norm(`${block}.layer.2.layer_norm.weight`),
        feedForward: feedForwardAt(`${block}.layer.2.DenseReluDense`),
      });
    }
    const relativeBiasName = (stack: string): string => `${stack}.block.0.layer.0.SelfAttention.relative_attention_bias.weight`;
    const shared = weights.get('shared.weight', vocabSize, dModel);
    return new T5Reference(
      config,
      shared,
      // Tied models project with the embedding itself, whatever a stored `lm_head.weight` holds.
      config.tieWordEmbeddings ? shared : weights.get('lm_head.weight', vocabSize, dModel),
      {
        blocks: encoderBlocks,
        relativeAttentionBias: weights.get(relativeBiasName('encoder'), numBuckets, numHeads),
        finalNorm: norm('encoder.final_layer_norm.weight'),
      },
      {
        blocks: decoderBlocks,
        relativeAttentionBias: weights.get(relativeBiasName('decoder'), numBuckets, numHeads),
        finalNorm: norm('decoder.final_layer_norm.weight'),
      },
    );
  }

  /**
   * The encoder's `last_hidden_state` for one sequence, `[ids.length, d_model]`.
   * `mask` (1 = attend, 0 = padding; default all ones) hides keys, as the ONNX `attention_mask` does.
   */
  encode(ids: readonly number[], mask?: readonly number[]): Activations {
    const keyMask = this.checkedMask(ids.length, mask, 'encoder');
    const length = ids.length;
    const { numHeads, numBuckets, maxDistance } = this.config;
    const bias = this.encoder.relativeAttentionBias;
    const positionBias = new Float64Array(numHeads * length * length);
    for (let h = 0; h < numHeads; h++) {
      for (let i = 0; i < length; i++) {
        for (let j = 0; j < length; j++) {
          const bucket = relativePositionBucket(j - i, true, numBuckets, maxDistance);
          positionBias[(h * length + i) * length + j] = bias.data[bucket * numHeads + h]! + (keyMask[j] ? 0 : FLOAT32_MIN);
        }
      }
    }

    const hidden = this.embed(ids);
    for (const block of this.encoder.blocks) {
      const normed = rmsNorm(hidden, block.selfAttentionNorm, this.config.layerNormEpsilon);
      addInPlace(hidden, this.attention(normed, normed, block.selfAttention, positionBias));
      addInPlace(hidden, this.feedForward(rmsNorm(hidden, block.feedForwardNorm, this.config.layerNormEpsilon), block.feedForward));
    }
    return rmsNorm(hidden, this.encoder.finalNorm, this.config.layerNormEpsilon);
  }

  /**
   * Next-token logits after every decoder position, `decoderIds.length` rows of `vocab_size` values,
   * from a full recomputation of the decoder over `decoderIds` (which start with the start token).
   * `encoderMask` (default all ones) hides padded encoder positions from cross-attention.
   */
  decoderLogits(encoderHidden: Activations, encoderMask: readonly number[] | undefined, decoderIds: readonly number[]): Float64Array[] {
    const crossMask = this.checkedMask(encoderHidden.rows, encoderMask, 'encoder');
    const length = decoderIds.length;
    const encoderLength = encoderHidden.rows;
    const { numHeads, numBuckets, maxDistance, layerNormEpsilon } = this.config;
    const bias = this.decoder.relativeAttentionBias;

    const selfBias = new Float64Array(numHeads * length * length);
    for (let h = 0; h < numHeads; h++) {
      for (let i = 0; i < length; i++) {
        for (let j = 0; j < length; j++) {
          const bucket = relativePositionBucket(j - i, false, numBuckets, maxDistance);
          selfBias[(h * length + i) * length + j] = bias.data[bucket * numHeads + h]! + (j > i ? FLOAT32_MIN : 0);
        }
      }
    }
    // Cross-attention has no relative bias: only the encoder padding mask.
    const crossBias = new Float64Array(numHeads * length * encoderLength);
    for (let h = 0; h < numHeads; h++) {
      for (let i = 0; i < length; i++) {
        for (let j = 0; j < encoderLength; j++) crossBias[(h * length + i) * encoderLength + j] = crossMask[j] ? 0 : FLOAT32_MIN;
      }
    }

    const hidden = this.embed(decoderIds);
    for (const block of this.decoder.blocks) {
      const normed = rmsNorm(hidden, block.selfAttentionNorm, layerNormEpsilon);
      addInPlace(hidden, this.attention(normed, normed, block.selfAttention, selfBias));
      const crossNormed = rmsNorm(hidden, block.crossAttentionNorm, layerNormEpsilon);
      addInPlace(hidden, this.attention(crossNormed, encoderHidden, block.crossAttention, crossBias));
      addInPlace(hidden, this.feedForward(rmsNorm(hidden, block.feedForwardNorm, layerNormEpsilon), block.feedForward));
    }
    const output = rmsNorm(hidden, this.decoder.finalNorm, layerNormEpsilon);
    // Tied T5 rescales before projecting with the embedding matrix (Mesh TensorFlow convention).
    if (this.config.tieWordEmbeddings) scaleInPlace(output, this.config.dModel ** -0.5);
    const logits = linear(output, this.lmHead);
    const rows: Float64Array[] = [];
    for (let t = 0; t < length; t++) rows.push(logits.data.subarray(t * logits.cols, (t + 1) * logits.cols));
    return rows;
  }

  /**
   * Greedy decoding: up to `maxNewTokens` generated ids (the start token not included), ending early
   * after the first EOS, which is included. Ties go to the lowest id.
   */
  greedy(ids: readonly number[], maxNewTokens: number): number[] {
    const encoded = this.encode(ids);
    const history = [this.config.decoderStartTokenId];
    const generated: number[] = [];
    while (generated.length < maxNewTokens) {
      const rows = this.decoderLogits(encoded, undefined, history);
      const next = argmax(rows[rows.length - 1]!);
      generated.push(next);
      history.push(next);
      if (next === this.config.eosTokenId) break;
    }
    return generated;
  }

  private embed(ids: readonly number[]): Activations {
    const { dModel, vocabSize } = this.config;
    const out = activations(ids.length, dModel);
    ids.forEach((id, position) => {
      if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
        throw new Error(`token id at position ${position} must be an integer in [0, ${vocabSize}); given ${id}`);
      }
      // T5 does not scale embeddings by sqrt(d_model).
      for (let i = 0; i < dModel; i++) out.data[position * dModel + i] = this.shared.data[id * dModel + i]!;
    });
    return out;
  }

  /**
   * Multi-head attention of `query` over `keyValueSource`; `positionBias` is `[H, Tq, Tk]` and already
   * holds the additive masks. No 1/sqrt(d_kv) scaling: T5 folds it into the initialisation.
   */
  private attention(query: Activations, keyValueSource: Activations, weights: AttentionWeights, positionBias: Float64Array): Activations {
    const { numHeads, dKv } = this.config;
    const q = linear(query, weights.q);
    const k = linear(keyValueSource, weights.k);
    const v = linear(keyValueSource, weights.v);
    const queryLength = query.rows;
    const keyLength = keyValueSource.rows;
    const inner = numHeads * dKv;
    const context = activations(queryLength, inner);
    const scores = new Float64Array(keyLength);
    for (let h = 0; h < numHeads; h++) {
      const headOffset = h * dKv;
      for (let i = 0; i < queryLength; i++) {
        for (let j = 0; j < keyLength; j++) {
          let dot = 0;
          for (let d = 0; d < dKv; d++) dot += q.data[i * inner + headOffset + d]! * k.data[j * inner + headOffset + d]!;
          scores[j] = dot + positionBias[(h * queryLength + i) * keyLength + j]!;
        }
        softmaxInPlace(scores, 0, keyLength);
        for (let d = 0; d < dKv; d++) {
          let sum = 0;
          for (let j = 0; j < keyLength; j++) sum += scores[j]! * v.data[j * inner + headOffset + d]!;
          context.data[i * inner + headOffset + d] = sum;
        }
      }
    }
    return linear(context, weights.o);
  }

  private feedForward(x: Activations, weights: FeedForwardWeights): Activations {
    if (weights.kind === 'relu') {
      const hidden = linear(x, weights.wi);
      reluInPlace(hidden);
      return linear(hidden, weights.wo);
    }
    const gate = linear(x, weights.wi0);
    geluNewInPlace(gate);
    multiplyInPlace(gate, linear(x, weights.wi1));
    return linear(gate, weights.wo);
  }

  private checkedMask(length: number, mask: readonly number[] | undefined, what: string): boolean[] {
    if (mask === undefined) return new Array<boolean>(length).fill(true);
    if (mask.length !== length) throw new Error(`${what} mask has ${mask.length} entries; the sequence has ${length}`);
    return mask.map((m, i) => {
      if (m !== 0 && m !== 1) throw new Error(`${what} mask entry ${i} must be 0 or 1; given ${m}`);
      return m === 1;
    });
  }
}

/** Looks tensors up by Hugging Face name and checks their shapes. */
class WeightLookup {
  constructor(
    private readonly tensors: Map<string, ReferenceTensor>,
    private readonly source: string,
  ) {}

  get(name: string, rows: number, cols: number): Weight {
    return { rows, cols, data: this.shaped(name, [rows, cols]) };
  }

  vector(name: string, length: number): Float32Array {
    return this.shaped(name, [length]);
  }

  private shaped(name: string, expected: readonly number[]): Float32Array {
    const tensor = this.tensors.get(name);
    if (tensor === undefined) throw new Error(`${this.source}: no tensor named \`${name}\``);
    if (tensor.shape.length !== expected.length || tensor.shape.some((d, i) => d !== expected[i])) {
      throw new Error(`${this.source}: tensor \`${name}\` has shape [${tensor.shape.join(', ')}]; expected [${expected.join(', ')}]`);
    }
    return tensor.data;
  }
}

/**
 * Runs the T5 decoder, in either file layout, as two operations:
 *
 * - `runFirst`: no cache yet. Feeds every pending token (the start token plus any prefix) and returns
 *   the logits of every position, the self-attention K/V of those tokens and the cross-attention K/V
 *   computed from the encoder output. Merged file: `use_cache_branch=[false]` with zero-length
 *   `[B, H, 0, d_kv]` past tensors (the branch ignores them, but they are graph inputs). Split layout:
 *   `decoder_model.onnx`.
 * - `runCached`: one new token per sequence on top of the self-attention cache, with the cross-attention
 *   K/V of the first step. Merged file: `use_cache_branch=[true]`; the empty `present.*.encoder.*` it
 *   outputs on this branch are not even fetched. Split layout: `decoder_with_past_model.onnx`, which
 *   gets `encoder_hidden_states` only when it declares that input (it is unused there, and some
 *   exports drop it).
 *
 * - `runLogits`: the first-step run for its logits alone, over whole targets (scoring, no cache kept).
 *
 * Everything that does not change between steps (names, fetch lists, the branch flags, the empty
 * past tensors per batch size) is built once.
 */
import { type InferenceSession, Tensor } from 'onnxruntime-node';

import { asFloatType, emptyFloatTensor, type FloatType, floatTypeOf } from './float-tensors.js';
import { type CacheNames, cacheNames } from './onnx-contract.js';
import type { T5Config } from './types.js';

/** What a decoder run returns: logits `[B, T, V]` and per-layer K/V `[B, H, len, d_kv]` (key, value per layer). */
export interface DecoderRunOutputs {
  readonly logits: Tensor;
  readonly selfKv: readonly Tensor[];
}

export interface FirstStepOutputs extends DecoderRunOutputs {
  readonly crossKv: readonly Tensor[];
}

/** Encoder side of a decoder run: hidden states `[B, S, d_model]` and mask `[B, S]`. */
export interface EncoderFeeds {
  readonly hiddenStates: Tensor;
  readonly attentionMask: Tensor;
}

const LOGITS_ONLY: readonly string[] = ['logits'];

export type DecoderSessions =
  | { readonly layout: 'merged'; readonly merged: InferenceSession }
  | { readonly layout: 'split'; readonly decoder: InferenceSession; readonly decoderWithPast: InferenceSession };

export class DecoderRunner {
  private readonly names: CacheNames;
  private readonly firstStepSession: InferenceSession;
  private readonly cacheStepSession: InferenceSession;
  /** Only the merged file has the branch flag and needs past inputs on the first step. */
  private readonly merged: boolean;
  private readonly useCacheBranchFalse = new Tensor('bool', new Uint8Array([0]), [1]);
  private readonly useCacheBranchTrue = new Tensor('bool', new Uint8Array([1]), [1]);
  private readonly emptyPastByBatchSize = new Map<number, Tensor>();
  private readonly firstStepFetches: readonly string[];
  private readonly cacheStepFetches: readonly string[];
  /** Whether the cached decoder declares `encoder_hidden_states` (optional in the with-past file). */
  private readonly cacheStepTakesHiddenStates: boolean;
  /** Float types of the file's `encoder_hidden_states` and past inputs: float16 in fp16 files with float16 I/O. */
  private readonly hiddenStatesType: FloatType;
  private readonly pastType: FloatType;

  constructor(
    private readonly sessions: DecoderSessions,
    private readonly config: T5Config,
  ) {
    this.names = cacheNames(config.numDecoderLayers);
    this.merged = sessions.layout === 'merged';
    this.firstStepSession = sessions.layout === 'merged' ? sessions.merged : sessions.decoder;
    this.cacheStepSession = sessions.layout === 'merged' ? sessions.merged : sessions.decoderWithPast;
    this.firstStepFetches = ['logits', ...this.names.presentDecoder, ...this.names.presentEncoder];
    this.cacheStepFetches = ['logits', ...this.names.presentDecoder];
    this.cacheStepTakesHiddenStates = this.cacheStepSession.inputNames.includes('encoder_hidden_states');
    this.hiddenStatesType = floatTypeOf(this.firstStepSession.inputMetadata, 'encoder_hidden_states');
    this.pastType = floatTypeOf(this.cacheStepSession.inputMetadata, this.names.pastDecoder[0] ?? '');
  }

  /** Encoder hidden states in the float type this decoder takes (converted when the encoder file differs). */
  acceptHiddenStates(hiddenStates: Tensor): Tensor {
    return asFloatType(hiddenStates, this.hiddenStatesType);
  }

  /** `inputIds` is int64 `[B, T]`: every token of each sequence, start token first. */
  async runFirst(inputIds: Tensor, encoder: EncoderFeeds): Promise<FirstStepOutputs> {
    const outputs = await this.firstStepSession.run(this.firstStepFeeds(inputIds, encoder), this.firstStepFetches);
    return {
      logits: outputs.logits as Tensor,
      selfKv: this.names.presentDecoder.map((name) => outputs[name] as Tensor),
      crossKv: this.names.presentEncoder.map((name) => outputs[name] as Tensor),
    };
  }

  /**
   * The first-step decoder for its logits alone (`[B, T, V]`), when no cache is kept: scoring whole
   * targets. The presents are not fetched, so no tensor is made for them.
   */
  async runLogits(inputIds: Tensor, encoder: EncoderFeeds): Promise<Tensor> {
    const outputs = await this.firstStepSession.run(this.firstStepFeeds(inputIds, encoder), LOGITS_ONLY);
    return outputs.logits as Tensor;
  }

  /**
   * `inputIds` is int64 `[B, 1]`: the one token after the cached ones. `selfKv` and `crossKv` are
   * ordered like `CacheNames.pastDecoder` / `pastEncoder`.
   */
  async runCached(
    inputIds: Tensor,
    encoder: EncoderFeeds,
    selfKv: readonly Tensor[],
    crossKv: readonly Tensor[],
  ): Promise<DecoderRunOutputs> {
    const feeds: Record<string, Tensor> = {
      input_ids: inputIds,
      encoder_attention_mask: encoder.attentionMask,
    };
    if (this.cacheStepTakesHiddenStates) feeds.encoder_hidden_states = encoder.hiddenStates;
    this.names.pastDecoder.forEach((name, index) => (feeds[name] = selfKv[index]!));
    this.names.pastEncoder.forEach((name, index) => (feeds[name] = crossKv[index]!));
    if (this.merged) feeds.use_cache_branch = this.useCacheBranchTrue;
    const outputs = await this.cacheStepSession.run(feeds, this.cacheStepFetches);
    return {
      logits: outputs.logits as Tensor,
      selfKv: this.names.presentDecoder.map((name) => outputs[name] as Tensor),
    };
  }

  private firstStepFeeds(inputIds: Tensor, encoder: EncoderFeeds): Record<string, Tensor> {
    const feeds: Record<string, Tensor> = {
      input_ids: inputIds,
      encoder_hidden_states: encoder.hiddenStates,
      encoder_attention_mask: encoder.attentionMask,
    };
    if (this.merged) {
      const emptyPast = this.emptyPast(inputIds.dims[0]!);
      for (const name of this.names.pastDecoder) feeds[name] = emptyPast;
      for (const name of this.names.pastEncoder) feeds[name] = emptyPast;
      feeds.use_cache_branch = this.useCacheBranchFalse;
    }
    return feeds;
  }

  async release(): Promise<void> {
    if (this.sessions.layout === 'merged') {
      await this.sessions.merged.release();
    } else {
      await Promise.all([this.sessions.decoder.release(), this.sessions.decoderWithPast.release()]);
    }
  }

  /** The `[B, H, 0, d_kv]` stand-in for every past input of the merged file's first step. */
  private emptyPast(batchSize: number): Tensor {
    let tensor = this.emptyPastByBatchSize.get(batchSize);
    if (tensor === undefined) {
      tensor = emptyFloatTensor(this.pastType, [batchSize, this.config.numHeads, 0, this.config.dKv]);
      this.emptyPastByBatchSize.set(batchSize, tensor);
    }
    return tensor;
  }
}

/**
 * Per-sequence decoder cache, and the batching of several sequences' caches into one decoder run.
 *
 * A sequence keeps, as `[1, …]` tensors:
 * - its encoder side: hidden states `[1, P, d_model]` and mask `[1, P]`, where P ≥ the true encoder
 *   length S (positions S…P-1 are zero and masked after the sequence ran in a padded batch);
 * - the cross-attention K/V `[1, H, P, d_kv]` per layer, from its first decoder step (later steps'
 *   encoder presents are empty and ignored);
 * - the self-attention K/V `[1, H, L, d_kv]` per layer of its first L decoder tokens.
 *
 * After a run, each sequence keeps views of the run's outputs (`rowViews`); when the same sequences
 * run together again those views are handed back to ONNX Runtime as the original batch tensors, so a
 * stable batch steps without copying its cache. Regrouping copies once; rewinding copies the
 * self-attention cache cut to the new length (sliced, never recomputed).
 */
import type { Tensor } from 'onnxruntime-node';

import { rowViews, stackRows, truncateAxis } from './batch-tensors.js';
import type { EncoderFeeds } from './decoder-runner.js';

/** Axis of the sequence length in `[B, S, d_model]` hidden states and `[B, S]` masks. */
const ENCODER_LENGTH_AXIS = 1;
/** Axis of the sequence length in `[B, H, L, d_kv]` K/V tensors. */
const KV_LENGTH_AXIS = 2;

export class SequenceCache {
  /** Self-attention K/V per past input name (key, value per layer), or undefined while nothing is cached. */
  private selfKv: Tensor[] | undefined;
  private cross: Tensor[] | undefined;
  private hidden: Tensor;
  private mask: Tensor;
  private cachedLength = 0;

  constructor(
    /** The true (unpadded) encoder length S. */
    readonly encoderLength: number,
    hiddenStates: Tensor,
    attentionMask: Tensor,
  ) {
    this.hidden = hiddenStates;
    this.mask = attentionMask;
  }

  /** Number of decoder tokens whose K/V are cached. */
  get length(): number {
    return this.cachedLength;
  }

  /** Encoder length of this sequence's stored tensors (≥ `encoderLength` after padded batches). */
  get paddedEncoderLength(): number {
    return this.hidden.dims[ENCODER_LENGTH_AXIS]!;
  }

  /** Cuts the self-attention cache to its first `length` tokens (a copy of the kept part). */
  truncate(length: number): void {
    if (length >= this.cachedLength) return;
    const previous = this.selfKv;
    this.selfKv = length === 0 ? undefined : previous!.map((tensor) => truncateAxis(tensor, KV_LENGTH_AXIS, length));
    previous?.forEach((tensor) => tensor.dispose());
    this.cachedLength = length;
  }

  /** Replaces the encoder side with (views of) the batch it just ran in; see `BatchedEncoderSide.adopt`. */
  replaceEncoderSide(hiddenStates: Tensor, attentionMask: Tensor): void {
    this.hidden = hiddenStates;
    this.mask = attentionMask;
  }

  /** Replaces the cross-attention K/V (one tensor per past encoder input). */
  replaceCrossKv(crossKv: Tensor[]): void {
    this.cross?.forEach((tensor) => tensor.dispose());
    this.cross = crossKv;
  }

  /**
   * Drops every tensor. The K/V tensors belong to this sequence alone and are disposed; the encoder
   * side may be shared with the `EncodedInput` and other sequences, so it is only let go.
   */
  release(): void {
    this.selfKv?.forEach((tensor) => tensor.dispose());
    this.cross?.forEach((tensor) => tensor.dispose());
    this.selfKv = undefined;
    this.cross = undefined;
    this.cachedLength = 0;
  }

  /**
   * Batches the encoder sides of `caches` for one decoder run. Rows are padded to the longest true
   * encoder length, unless they already share one padded length (then a stable batch is not copied).
   * `withCross` adds the cross-attention K/V, which exist after a sequence's first step.
   */
  static batchEncoderSides(caches: readonly SequenceCache[], withCross: boolean): BatchedEncoderSide {
    const first = caches[0]!;
    const sharedPadding = caches.every((cache) => cache.paddedEncoderLength === first.paddedEncoderLength);
    const length = sharedPadding ? first.paddedEncoderLength : Math.max(...caches.map((cache) => cache.encoderLength));
    const hidden = stackRows(caches.map((cache) => cache.hidden), ENCODER_LENGTH_AXIS, length);
    const mask = stackRows(caches.map((cache) => cache.mask), ENCODER_LENGTH_AXIS, length);
    const cross = withCross
      ? first.cross!.map((_, index) => stackRows(caches.map((cache) => cache.cross![index]!), KV_LENGTH_AXIS, length))
      : undefined;
    return new BatchedEncoderSide(caches, { hiddenStates: hidden.tensor, attentionMask: mask.tensor }, hidden.copied || mask.copied, cross);
  }

  /** Batches the self-attention caches of `caches`, which all hold the same number of tokens. */
  static batchSelfKv(caches: readonly SequenceCache[]): Tensor[] {
    const length = caches[0]!.cachedLength;
    return caches[0]!.selfKv!.map(
      (_, index) => stackRows(caches.map((cache) => cache.selfKv![index]!), KV_LENGTH_AXIS, length).tensor,
    );
  }

  /** Takes row `row` of a run's self-attention presents `[B, H, length, d_kv]` as this sequence's cache. */
  static adoptSelfKv(caches: readonly SequenceCache[], presents: readonly Tensor[], length: number): void {
    const rows = presents.map(rowViews);
    caches.forEach((cache, row) => {
      cache.selfKv?.forEach((tensor) => tensor.dispose());
      cache.selfKv = rows.map((views) => views[row]!);
      cache.cachedLength = length;
    });
  }
}

/** The encoder side of one batched decoder run, and how its sequences adopt it afterwards. */
export class BatchedEncoderSide {
  constructor(
    private readonly caches: readonly SequenceCache[],
    readonly feeds: EncoderFeeds,
    private readonly encoderCopied: boolean,
    private readonly cross: readonly { tensor: Tensor; copied: boolean }[] | undefined,
  ) {}

  /** Cross-attention K/V for the cached decoder, ordered like the past encoder inputs. */
  get crossKv(): Tensor[] {
    return this.cross!.map((entry) => entry.tensor);
  }

  /**
   * After a successful run: sequences whose encoder side was copied into this batch keep views of the
   * batch tensors, so the same batch runs without copying next time. `firstStepCross` (the encoder
   * presents of a first step) becomes the sequences' cross-attention cache.
   */
  adopt(firstStepCross?: readonly Tensor[]): void {
    if (this.encoderCopied) {
      const hidden = rowViews(this.feeds.hiddenStates);
      const mask = rowViews(this.feeds.attentionMask);
      this.caches.forEach((cache, row) => cache.replaceEncoderSide(hidden[row]!, mask[row]!));
    }
    const crossSource = firstStepCross ?? (this.cross?.some((entry) => entry.copied) ? this.crossKv : undefined);
    if (crossSource === undefined) return;
    const rows = crossSource.map(rowViews);
    this.caches.forEach((cache, row) => cache.replaceCrossKv(rows.map((views) => views[row]!)));
  }
}

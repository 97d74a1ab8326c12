/**
 * Per-sequence decoder cache, and the batching of several sequences' caches into one decoder run.
 *
 * A sequence keeps (each as a `BatchSlot`: its row in the batch tensors of the run that made them):
 * - its encoder side: hidden states `[B, P, d_model]` and mask `[B, P]`, where P ≥ the sequence's true
 *   encoder length S (positions S…P-1 are zero and masked after it ran in a padded batch);
 * - the cross-attention K/V `[B, H, P, d_kv]` per layer, from its first decoder step (later steps'
 *   encoder presents are empty and ignored);
 * - the self-attention K/V `[B, H, L, d_kv]` per layer of its first L decoder tokens.
 *
 * When the same sequences run together again, in the same order, these batch tensors are fed back as
 * they are: a stable batch steps without copying. A new grouping copies each row once into new batch
 * tensors (which also lets a sequence that left a big batch stop pinning its memory). Rewinding copies
 * the self-attention cache cut to the new length: sliced, never recomputed.
 */
import type { Tensor } from 'onnxruntime-node';

import { type BatchSlot, copyRow, rowOf, sameBatch, stackRows, truncateAxis } from './batch-tensors.js';
import type { EncoderFeeds } from './decoder-runner.js';

/** Axis of the sequence length in `[B, S, d_model]` hidden states and `[B, S]` masks. */
const ENCODER_LENGTH_AXIS = 1;
/** Axis of the sequence length in `[B, H, L, d_kv]` K/V tensors. */
const KV_LENGTH_AXIS = 2;

/** The encoder side of one batched decoder run. */
export interface EncoderBatch extends EncoderFeeds {
  /** `[hiddenStates, attentionMask]`, the array the sequences' encoder slots share. */
  readonly tensors: readonly Tensor[];
  /** Cross-attention K/V ordered like the past encoder inputs; present for cached runs. */
  readonly crossKv: readonly Tensor[] | undefined;
  /** True when the rows were copied into new tensors (a new grouping), false when reused as they were. */
  readonly stacked: boolean;
}

export class SequenceCache {
  private encoderSlot: BatchSlot;
  private crossSlot: BatchSlot | undefined;
  private selfSlot: BatchSlot | undefined;
  private cachedLength = 0;

  constructor(
    /** The true (unpadded) encoder length S. */
    readonly encoderLength: number,
    hiddenStates: Tensor,
    attentionMask: Tensor,
  ) {
    this.encoderSlot = { tensors: [hiddenStates, attentionMask], row: 0 };
  }

  /** Number of decoder tokens whose K/V are cached. */
  get length(): number {
    return this.cachedLength;
  }

  /** Cuts the self-attention cache to its first `length` tokens (a copy of the kept part). */
  truncate(length: number): void {
    if (length >= this.cachedLength) return;
    const slot = this.selfSlot!;
    this.selfSlot =
      length === 0
        ? undefined
        : { tensors: slot.tensors.map((batch) => truncateAxis(rowOf(batch, slot.row), KV_LENGTH_AXIS, length)), row: 0 };
    disposeIfOwned(slot);
    this.cachedLength = length;
  }

  /**
   * A cache of its own with the same contents: the encoder side shared (a cache never disposes it), the
   * cross- and self-attention K/V copied into batch-of-one tensors, so releasing either never touches
   * the other's.
   */
  copy(): SequenceCache {
    const [hiddenStates, attentionMask] = this.encoderSlot.tensors;
    const copy = new SequenceCache(this.encoderLength, hiddenStates!, attentionMask!);
    copy.encoderSlot = this.encoderSlot;
    copy.crossSlot = copySlot(this.crossSlot);
    copy.selfSlot = copySlot(this.selfSlot);
    copy.cachedLength = this.cachedLength;
    return copy;
  }

  /** Drops the K/V cache; the encoder side stays (it belongs to the encoded input as well). */
  release(): void {
    disposeIfOwned(this.selfSlot);
    disposeIfOwned(this.crossSlot);
    this.selfSlot = undefined;
    this.crossSlot = undefined;
    this.cachedLength = 0;
  }

  /**
   * The encoder side for one run over `caches`: their current batch tensors when they are that batch,
   * else their rows copied into new tensors padded to the longest true encoder length. `withCross`
   * includes the cross-attention K/V, which exist after a sequence's first step.
   */
  static encoderBatch(caches: readonly SequenceCache[], withCross: boolean): EncoderBatch {
    const encoder = sameBatch(caches.map((cache) => cache.encoderSlot));
    const cross = withCross ? sameBatch(caches.map((cache) => cache.crossSlot)) : undefined;
    if (encoder !== undefined && (!withCross || cross !== undefined)) {
      return { tensors: encoder, hiddenStates: encoder[0]!, attentionMask: encoder[1]!, crossKv: cross, stacked: false };
    }
    const length = Math.max(...caches.map((cache) => cache.encoderLength));
    const stack = (slots: BatchSlot[], index: number, axis: number) =>
      stackRows(slots.map((slot) => rowOf(slot.tensors[index]!, slot.row)), axis, length);
    const encoderSlots = caches.map((cache) => cache.encoderSlot);
    const tensors = [stack(encoderSlots, 0, ENCODER_LENGTH_AXIS), stack(encoderSlots, 1, ENCODER_LENGTH_AXIS)];
    const crossSlots = withCross ? caches.map((cache) => cache.crossSlot!) : undefined;
    const crossKv = crossSlots?.[0]!.tensors.map((_, index) => stack(crossSlots, index, KV_LENGTH_AXIS));
    return { tensors, hiddenStates: tensors[0]!, attentionMask: tensors[1]!, crossKv, stacked: true };
  }

  /** Self-attention K/V for one run over `caches`, which all hold the same number of tokens. */
  static selfKvBatch(caches: readonly SequenceCache[]): readonly Tensor[] {
    const slots = caches.map((cache) => cache.selfSlot!);
    const reused = sameBatch(slots);
    if (reused !== undefined) return reused;
    const length = caches[0]!.cachedLength;
    return slots[0]!.tensors.map((_, index) =>
      stackRows(slots.map((slot) => rowOf(slot.tensors[index]!, slot.row)), KV_LENGTH_AXIS, length),
    );
  }

  /**
   * After a successful run: row `row` of the run's tensors becomes sequence `caches[row]`'s encoder
   * side (when it was stacked anew), cross-attention K/V (`firstStepCross`, the encoder presents of a
   * first step, or the stacked ones) and self-attention K/V (`selfKv`, the run's presents, `length` long).
   */
  static adoptRun(
    caches: readonly SequenceCache[],
    encoder: EncoderBatch,
    selfKv: readonly Tensor[],
    length: number,
    firstStepCross?: readonly Tensor[],
  ): void {
    const cross = firstStepCross ?? (encoder.stacked ? encoder.crossKv : undefined);
    caches.forEach((cache, row) => {
      if (encoder.stacked) cache.encoderSlot = { tensors: encoder.tensors, row };
      if (cross !== undefined) {
        disposeIfOwned(cache.crossSlot);
        cache.crossSlot = { tensors: cross, row };
      }
      disposeIfOwned(cache.selfSlot);
      cache.selfSlot = { tensors: selfKv, row };
      cache.cachedLength = length;
    });
  }
}

/**
 * Disposes K/V tensors that only this sequence uses (a batch of one). Rows of a bigger batch are only
 * let go: the other sequences still read them.
 */
function disposeIfOwned(slot: BatchSlot | undefined): void {
  if (slot !== undefined && slot.tensors[0]!.dims[0] === 1) slot.tensors.forEach((tensor) => tensor.dispose());
}

function copySlot(slot: BatchSlot | undefined): BatchSlot | undefined {
  return slot === undefined ? undefined : { tensors: slot.tensors.map((batch) => copyRow(batch, slot.row)), row: 0 };
}

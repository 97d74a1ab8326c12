/**
 * The encoder's result for one input sequence. Decode states created from it share its tensors, which
 * are never written to: a batched step copies them into its own buffers when it has to pad.
 */
import { Tensor } from 'onnxruntime-node';

import { float32Slice } from './float-tensors.js';
import type { EncodedInput } from './types.js';

export class T5EncodedInput implements EncodedInput {
  /** `[1, S]` attention mask of ones. */
  readonly attentionMask: Tensor;

  constructor(
    /** The model that encoded it; states may only be created on that model. */
    readonly owner: object,
    readonly inputIds: readonly number[],
    readonly encodeMs: number,
    /** `[1, S, d_model]`, usually a view of the batch the encoder ran. */
    readonly hiddenStatesTensor: Tensor,
  ) {
    this.attentionMask = new Tensor('int64', new BigInt64Array(inputIds.length).fill(1n), [1, inputIds.length]);
  }

  private widened: Float32Array | undefined;

  /** As float32: the tensor's data, or (float16 states) a copy widened on first read. */
  get hiddenStates(): Float32Array {
    this.widened ??= float32Slice(this.hiddenStatesTensor, 0, this.hiddenStatesTensor.size);
    return this.widened;
  }

  get length(): number {
    return this.inputIds.length;
  }
}

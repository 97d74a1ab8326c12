/**
 * The main thread's handle of an encoder output kept on the model thread. It carries a copy of the
 * hidden states (the `EncodedInput` contract exposes them); the thread keeps its own rows for the decode
 * states created from it until the handle is garbage-collected.
 */
import type { EncodedInput } from '../types.js';

export class WorkerEncodedInput implements EncodedInput {
  constructor(
    /** The model that encoded it; states may only be created on that model. */
    readonly owner: object,
    /** The model's link to the thread that holds it; states may only be created while that thread serves. */
    readonly thread: object,
    /** The thread's number for this encoder output. */
    readonly encodedId: number,
    readonly inputIds: readonly number[],
    readonly hiddenStates: Float32Array,
    readonly encodeMs: number,
  ) {}
}

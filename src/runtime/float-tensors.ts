/**
 * Float16 where a model file has float16 inputs and outputs (fp16 files made by older tools; files made
 * the transformers.js way keep float32 at their edges). Node 20 has no `Float16Array`: ONNX Runtime hands
 * float16 tensors over as 16-bit patterns in a `Uint16Array`.
 *
 * - KV caches and encoder states stay float16 from the run that made them to the run that reads them,
 *   copied as bit patterns when batches regroup (batch-tensors.ts): never converted.
 * - Where the encoder's output type differs from the decoder's `encoder_hidden_states` (a folder mixing
 *   formats by file), each encoded input is converted once, when it is encoded.
 * - A logits row is widened to float32 once, when the step hands it out: only the rows handed out (the
 *   last position of each sequence), through a 65,536-entry table. Widening is exact, so a FLOAT16 stream
 *   then carries exactly the model's float16 bits.
 */
import { type InferenceSession, Tensor } from 'onnxruntime-node';

import { narrowToFloat16, widenFloat16 } from '../numeric/float16.js';

export type FloatType = 'float32' | 'float16';

/** The element type ONNX Runtime reports for a float tensor of a session (float32 when it is neither). */
export function floatTypeOf(metadata: readonly InferenceSession.ValueMetadata[], name: string): FloatType {
  const entry = metadata.find((value) => value.name === name) as InferenceSession.TensorValueMetadata | undefined;
  return entry?.isTensor && entry.type === 'float16' ? 'float16' : 'float32';
}

/** `tensor` in `type`: itself when it already is, else a converted copy. */
export function asFloatType(tensor: Tensor, type: FloatType): Tensor {
  if (tensor.type === type) return tensor;
  if (type === 'float16') return new Tensor('float16', narrowToFloat16(tensor.data as Float32Array), tensor.dims);
  return new Tensor('float32', widenFloat16(tensor.data as Uint16Array), tensor.dims);
}

/** Entries `[start, end)` of a float tensor's data as float32: a view of float32 data, a widened copy of float16. */
export function float32Slice(tensor: Tensor, start: number, end: number): Float32Array {
  if (tensor.type === 'float16') return widenFloat16((tensor.data as Uint16Array).subarray(start, end));
  const data = tensor.data as Float32Array;
  return start === 0 && end === data.length ? data : data.subarray(start, end);
}

/** An empty `[…dims]` tensor (one dim 0) of `type`. */
export function emptyFloatTensor(type: FloatType, dims: readonly number[]): Tensor {
  return type === 'float16' ? new Tensor('float16', new Uint16Array(0), dims) : new Tensor('float32', new Float32Array(0), dims);
}

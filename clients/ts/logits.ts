/**
 * A step's raw logits as a `Float32Array`, and the few statistics clients read from a row.
 *
 * Float32 rows are views over the bytes received from the server where those start on a 4-byte boundary
 * (on the little-endian hosts Node runs on): no element is copied. A `Decode` step's row does (the client's
 * tests check it); the rows of a `Score` response share one message and start wherever its encoding puts
 * them, and a misaligned row is copied once rather than rejected.
 */
import { DataType, type StepLogits, type Tensor } from './proto.js';

/** The tensor's elements as float32: a view for FLOAT32, a converted copy for FLOAT16. */
export function tensorToFloat32(tensor: Tensor): Float32Array {
  const bytes = tensor.data;
  const expected = tensor.shape.reduce((product, size) => product * size, 1);
  switch (tensor.dtype) {
    case DataType.DATA_TYPE_FLOAT32: {
      if (bytes.byteLength !== expected * 4) {
        throw new RangeError(`float32 tensor of shape [${tensor.shape}] needs ${expected * 4} bytes; given ${bytes.byteLength}`);
      }
      if (bytes.byteOffset % Float32Array.BYTES_PER_ELEMENT === 0) {
        return new Float32Array(bytes.buffer, bytes.byteOffset, expected);
      }
      return new Float32Array(new Uint8Array(bytes).buffer);
    }
    case DataType.DATA_TYPE_FLOAT16: {
      if (bytes.byteLength !== expected * 2) {
        throw new RangeError(`float16 tensor of shape [${tensor.shape}] needs ${expected * 2} bytes; given ${bytes.byteLength}`);
      }
      return float16ToFloat32(bytes);
    }
    default:
      throw new RangeError(`tensor dtype must be FLOAT32 or FLOAT16; given ${DataType[tensor.dtype] ?? tensor.dtype}`);
  }
}

/** The raw logits row of a step, or `undefined` when the stream asked for top-k or no logits. */
export function rawLogitsOf(message: StepLogits): Float32Array | undefined {
  return message.raw === undefined ? undefined : tensorToFloat32(message.raw);
}

/** Decodes little-endian IEEE 754 half-precision values. */
export function float16ToFloat32(bytes: Uint8Array): Float32Array {
  const count = bytes.byteLength >>> 1;
  const out = new Float32Array(count);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < count; i++) {
    const half = view.getUint16(i * 2, true);
    const sign = half & 0x8000 ? -1 : 1;
    const exponent = (half >>> 10) & 0x1f;
    const fraction = half & 0x3ff;
    if (exponent === 0) out[i] = sign * fraction * 2 ** -24; // subnormal (or zero)
    else if (exponent === 0x1f) out[i] = fraction === 0 ? sign * Infinity : NaN;
    else out[i] = sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
  }
  return out;
}

/** log Σ exp(row), computed stably (shifted by the row's maximum); -Infinity for an all -Infinity row. */
export function logSumExp(row: Float32Array): number {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i]! > max) max = row[i]!;
  if (max === -Infinity || Number.isNaN(max)) return max;
  if (max === Infinity) return Infinity;
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i]! - max);
  return max + Math.log(sum);
}

/** softmax(row)[tokenId], given the row's `logSumExp`. */
export function probabilityOf(row: Float32Array, tokenId: number, rowLogSumExp = logSumExp(row)): number {
  return Math.exp(row[tokenId]! - rowLogSumExp);
}

/** Entropy of softmax(row) in nats, given the row's `logSumExp`. */
export function entropyOf(row: Float32Array, rowLogSumExp = logSumExp(row)): number {
  let entropy = 0;
  for (let i = 0; i < row.length; i++) {
    const logProbability = row[i]! - rowLogSumExp;
    if (logProbability > -Infinity) entropy -= Math.exp(logProbability) * logProbability;
  }
  return entropy;
}

/**
 * Ids of the `k` highest values, highest first (lowest id first on ties; NaN never ranks); one pass over
 * the row, keeping the `k` best in order.
 */
export function topKIds(row: Float32Array, k: number): number[] {
  const ids: number[] = [];
  for (let id = 0; id < row.length; id++) {
    const value = row[id]!;
    if (Number.isNaN(value) || (ids.length === k && !(value > row[ids[k - 1]!]!))) continue;
    let position = ids.length === k ? k - 1 : ids.length;
    // Strictly greater moves up, so an equal value stays behind the lower id already kept.
    while (position > 0 && value > row[ids[position - 1]!]!) position--;
    ids.splice(position, 0, id);
    if (ids.length > k) ids.pop();
  }
  return ids;
}

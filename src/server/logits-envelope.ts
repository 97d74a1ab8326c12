/**
 * The encoding of the one large message a stream sends at every step: a `DecodeResponse` (or
 * `GenerateResponse`: both carry `StepLogits logits = 2`) whose `StepLogits.raw` holds the row.
 *
 * The generated encoder builds nested messages by encoding each level into chunks and joining them, so
 * a 128 KiB row is copied once per nesting level (three times) into three fresh buffers. Here the sizes
 * are computed first and the whole envelope is written into one buffer, with the row's bytes copied once,
 * over memory reused once grpc-js has copied the previous envelope (`envelope-buffers.ts`).
 * The bytes are the ones the generated encoder writes (proto3: zero fields omitted, `shape` packed);
 * `test/unit/server/logits-envelope.test.ts` checks that byte for byte.
 */
import type { StepLogits, Tensor } from '../gen/stepwise/v1/stepwise.js';
import type { EnvelopeBuffers } from './envelope-buffers.js';

const WIRE_VARINT = 0;
const WIRE_LENGTH_DELIMITED = 2;

const tag = (field: number, wireType: number): number => (field << 3) | wireType;

/** Bytes of `value` as a base-128 varint (values here are uint32). */
function varintSize(value: number): number {
  let size = 1;
  for (let rest = value >>> 7; rest !== 0; rest >>>= 7) size += 1;
  return size;
}

function writeVarint(buffer: Buffer, offset: number, value: number): number {
  let rest = value >>> 0;
  while (rest > 0x7f) {
    buffer[offset++] = (rest & 0x7f) | 0x80;
    rest >>>= 7;
  }
  buffer[offset++] = rest;
  return offset;
}

/** A length-delimited field's size: tag, length, body. */
const delimitedSize = (field: number, bodySize: number): number =>
  varintSize(tag(field, WIRE_LENGTH_DELIMITED)) + varintSize(bodySize) + bodySize;

/**
 * The encoded response envelope for `logits`, or undefined when it carries no raw tensor (top-k and
 * none formats are small; the generated encoder handles them).
 */
export function encodeLogitsEnvelope(logits: StepLogits, buffers: EnvelopeBuffers): Buffer | undefined {
  const raw = logits.raw;
  if (raw === undefined || logits.top !== undefined) return undefined;
  const shapeSize = raw.shape.reduce((sum, dim) => sum + varintSize(dim), 0);
  const tensorSize =
    (raw.dtype !== 0 ? 1 + varintSize(raw.dtype) : 0) +
    (raw.shape.length > 0 ? delimitedSize(2, shapeSize) : 0) +
    (raw.data.length > 0 ? delimitedSize(3, raw.data.length) : 0);
  const branchSize = logits.branch !== 0 ? 1 + varintSize(logits.branch) : 0;
  const stepLogitsSize = (logits.step !== 0 ? 1 + varintSize(logits.step) : 0) + delimitedSize(2, tensorSize) + branchSize;
  const size = delimitedSize(2, stepLogitsSize);
  // The row's bytes end the envelope (but for a branch id); they go where copying them from the row's
  // memory is fastest.
  const buffer = buffers.take(size, { at: size - branchSize - raw.data.length, like: raw.data.byteOffset });

  // DecodeResponse / GenerateResponse: field 2, StepLogits.
  let at = writeVarint(buffer, 0, tag(2, WIRE_LENGTH_DELIMITED));
  at = writeVarint(buffer, at, stepLogitsSize);
  // StepLogits: step = 1, raw = 2, branch = 4.
  if (logits.step !== 0) {
    at = writeVarint(buffer, at, tag(1, WIRE_VARINT));
    at = writeVarint(buffer, at, logits.step);
  }
  at = writeVarint(buffer, at, tag(2, WIRE_LENGTH_DELIMITED));
  at = writeVarint(buffer, at, tensorSize);
  at = writeTensor(buffer, at, raw, shapeSize);
  // branch = 4.
  if (logits.branch !== 0) {
    at = writeVarint(buffer, at, tag(4, WIRE_VARINT));
    at = writeVarint(buffer, at, logits.branch);
  }
  if (at !== buffer.length) throw new Error(`logits envelope size mismatch: wrote ${at} of ${buffer.length} bytes`);
  return buffer;
}

/** Tensor: dtype = 1, shape = 2 (packed), data = 3. */
function writeTensor(buffer: Buffer, at: number, tensor: Tensor, shapeSize: number): number {
  if (tensor.dtype !== 0) {
    at = writeVarint(buffer, at, tag(1, WIRE_VARINT));
    at = writeVarint(buffer, at, tensor.dtype);
  }
  if (tensor.shape.length > 0) {
    at = writeVarint(buffer, at, tag(2, WIRE_LENGTH_DELIMITED));
    at = writeVarint(buffer, at, shapeSize);
    for (const dim of tensor.shape) at = writeVarint(buffer, at, dim);
  }
  if (tensor.data.length > 0) {
    at = writeVarint(buffer, at, tag(3, WIRE_LENGTH_DELIMITED));
    at = writeVarint(buffer, at, tensor.data.length);
    buffer.set(tensor.data, at);
    at += tensor.data.length;
  }
  return at;
}

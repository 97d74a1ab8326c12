/**
 * A minimal safetensors reader for the T5 reference.
 *
 * It shares no code with the model builder on purpose: if the builder wrote a tensor under the wrong
 * name, with the wrong shape or at the wrong offset, a reader borrowed from it would agree with the
 * mistake and the reference would no longer be independent.
 *
 * Format (https://github.com/huggingface/safetensors): 8 bytes little-endian u64 `N`, then `N` bytes of
 * JSON `{ name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__"?: {...} }`, then the data
 * buffer; `data_offsets` are relative to the start of the data buffer. Only `F32` is accepted: every
 * model this project builds stores float32 weights, and the reference computes from exactly those.
 */
import { readFileSync } from 'node:fs';
import { endianness } from 'node:os';

export interface ReferenceTensor {
  readonly name: string;
  readonly shape: readonly number[];
  /** Row-major values; a view into the file's bytes when they are 4-byte aligned. */
  readonly data: Float32Array;
}

interface HeaderEntry {
  readonly dtype?: unknown;
  readonly shape?: unknown;
  readonly data_offsets?: unknown;
}

const HEADER_LENGTH_BYTES = 8;
const FLOAT32_BYTES = 4;

/** Reads every tensor of a `.safetensors` file, keyed by name. */
export function readSafetensors(path: string): Map<string, ReferenceTensor> {
  const bytes = readFileSync(path);
  return parseSafetensors(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), path);
}

/** Parses safetensors bytes; `source` names the file in error messages. */
export function parseSafetensors(bytes: Uint8Array, source: string): Map<string, ReferenceTensor> {
  // Float32Array views read the platform's byte order; safetensors is little-endian.
  if (endianness() !== 'LE') throw new Error(`${source}: the reference reader needs a little-endian platform`);
  if (bytes.byteLength < HEADER_LENGTH_BYTES) {
    throw new Error(`${source}: file is ${bytes.byteLength} bytes, shorter than the 8-byte header length`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  const dataStart = HEADER_LENGTH_BYTES + headerLength;
  if (dataStart > bytes.byteLength) {
    throw new Error(`${source}: header length ${headerLength} runs past the end of the file (${bytes.byteLength} bytes)`);
  }
  const headerText = new TextDecoder().decode(bytes.subarray(HEADER_LENGTH_BYTES, dataStart));
  const header = JSON.parse(headerText) as Record<string, HeaderEntry>;
  const dataLength = bytes.byteLength - dataStart;

  const tensors = new Map<string, ReferenceTensor>();
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    if (entry.dtype !== 'F32') {
      throw new Error(`${source}: tensor \`${name}\` has dtype ${String(entry.dtype)}; the reference reads only F32`);
    }
    const shape = entry.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new Error(`${source}: tensor \`${name}\` has an invalid shape ${JSON.stringify(shape)}`);
    }
    const offsets = entry.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isInteger(o) && o >= 0)) {
      throw new Error(`${source}: tensor \`${name}\` has invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    const elementCount = (shape as number[]).reduce((product, d) => product * d, 1);
    if (end < begin || end > dataLength) {
      throw new Error(`${source}: tensor \`${name}\` data_offsets [${begin}, ${end}] lie outside the ${dataLength}-byte data buffer`);
    }
    if (end - begin !== elementCount * FLOAT32_BYTES) {
      throw new Error(
        `${source}: tensor \`${name}\` spans ${end - begin} bytes but shape [${shape.join(', ')}] needs ${elementCount * FLOAT32_BYTES}`,
      );
    }
    tensors.set(name, { name, shape: shape as number[], data: float32At(bytes, dataStart + begin, elementCount) });
  }
  return tensors;
}

function float32At(bytes: Uint8Array, byteOffset: number, length: number): Float32Array {
  const absoluteOffset = bytes.byteOffset + byteOffset;
  if (absoluteOffset % FLOAT32_BYTES === 0) return new Float32Array(bytes.buffer, absoluteOffset, length);
  // The format does not promise alignment (writers usually pad the header, but need not): copy then.
  const copy = new Uint8Array(length * FLOAT32_BYTES);
  copy.set(bytes.subarray(byteOffset, byteOffset + length * FLOAT32_BYTES));
  return new Float32Array(copy.buffer);
}

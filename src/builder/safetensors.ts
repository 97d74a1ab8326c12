/**
 * The safetensors format (https://github.com/huggingface/safetensors), float32 only: an 8-byte
 * little-endian header length, a JSON header naming each tensor's dtype, shape and byte range (names
 * sorted, `__metadata__` first), padded with spaces to a multiple of 8, then the raw little-endian data.
 */
import { open, readFile } from 'node:fs/promises';
import { endianness } from 'node:os';

export interface Float32Tensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

function assertLittleEndianHost(): void {
  // Float32Array bytes are written as they sit in memory; the format requires little-endian.
  if (endianness() !== 'LE') throw new Error(`safetensors: this host is ${endianness()}-endian; only little-endian is supported`);
}

function elementCount(shape: readonly number[]): number {
  return shape.reduce((product, size) => product * size, 1);
}

/** Writes `tensors` (any insertion order; stored sorted by name) to `path`. */
export async function writeSafetensors(
  path: string,
  tensors: ReadonlyMap<string, Float32Tensor>,
  metadata: Readonly<Record<string, string>> = { format: 'pt' },
): Promise<void> {
  assertLittleEndianHost();
  const names = [...tensors.keys()].sort();
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const name of names) {
    const tensor = tensors.get(name)!;
    if (tensor.data.length !== elementCount(tensor.shape)) {
      throw new Error(
        `safetensors: tensor \`${name}\` has ${tensor.data.length} values but shape [${tensor.shape.join(', ')}] needs ${elementCount(tensor.shape)}`,
      );
    }
    const entry: HeaderEntry = { dtype: 'F32', shape: [...tensor.shape], data_offsets: [offset, offset + tensor.data.byteLength] };
    header[name] = entry;
    offset += tensor.data.byteLength;
  }
  let headerText = JSON.stringify(header);
  headerText += ' '.repeat((8 - (Buffer.byteLength(headerText) % 8)) % 8);
  const headerBytes = Buffer.from(headerText, 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(headerBytes.length));

  const file = await open(path, 'w');
  try {
    await file.write(prefix);
    await file.write(headerBytes);
    for (const name of names) {
      const { data } = tensors.get(name)!;
      await file.write(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    }
  } finally {
    await file.close();
  }
}

export interface SafetensorsContents {
  readonly tensors: Map<string, Float32Tensor>;
  readonly metadata: Record<string, string>;
}

/** Reads a float32 safetensors file written by any conforming writer. */
export async function readSafetensors(path: string): Promise<SafetensorsContents> {
  assertLittleEndianHost();
  const bytes = await readFile(path);
  if (bytes.length < 8) throw new Error(`safetensors: ${path} is ${bytes.length} bytes, shorter than the 8-byte header length`);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  if (8 + headerLength > bytes.length) {
    throw new Error(`safetensors: ${path} declares a ${headerLength}-byte header but holds only ${bytes.length - 8} bytes after the length`);
  }
  const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8')) as Record<string, unknown>;
  const dataStart = 8 + headerLength;
  const tensors = new Map<string, Float32Tensor>();
  let metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = value as Record<string, string>;
      continue;
    }
    const entry = value as HeaderEntry;
    if (entry.dtype !== 'F32') throw new Error(`safetensors: tensor \`${name}\` in ${path} has dtype ${entry.dtype}; only F32 is supported`);
    const [begin, end] = entry.data_offsets;
    if (end - begin !== elementCount(entry.shape) * 4 || dataStart + end > bytes.length) {
      throw new Error(`safetensors: tensor \`${name}\` in ${path} has byte range [${begin}, ${end}) that does not fit shape [${entry.shape.join(', ')}] or the file`);
    }
    // Copy into a fresh, aligned buffer: the file's data section need not be 4-byte aligned in memory.
    const data = new Float32Array(elementCount(entry.shape));
    new Uint8Array(data.buffer).set(bytes.subarray(dataStart + begin, dataStart + end));
    tensors.set(name, { shape: entry.shape, data });
  }
  return { tensors, metadata };
}

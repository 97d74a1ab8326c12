/**
 * Writes a float32 matrix as a NumPy `.npy` file (format version 1.0), one row at a time, so that a decode
 * of unknown length can be saved while it streams: rows are appended as they arrive and the shape is
 * written into the header when the file is closed.
 *
 * Format (https://numpy.org/devdocs/reference/generated/numpy.lib.format.html): the magic string
 * `\x93NUMPY`, the version bytes `1 0`, a little-endian uint16 header length, then an ASCII Python dict
 * literal padded with spaces and ended by `\n` so that the data starts on a 64-byte boundary, then the
 * data in C order.
 *
 * Usage:
 * ```ts
 * const npy = await NpyMatrixWriter.create('logits.npy', 32128);
 * for await (...) await npy.appendRow(rawLogits);   // Float32Array, 32128 long
 * await npy.close();                                 // header now says shape (steps, 32128)
 * ```
 */
import { open, type FileHandle } from 'node:fs/promises';
import { endianness } from 'node:os';

const MAGIC = Uint8Array.of(0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59); // "\x93NUMPY"
const PREAMBLE_BYTES = MAGIC.length + 2 /* version */ + 2 /* header length */;
const HEADER_ALIGNMENT = 64;

/** The Python tuple literal NumPy expects: `(3,)` for one dimension, `(3, 4)` for two. */
function shapeLiteral(shape: readonly number[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
}

/**
 * The complete `.npy` v1.0 header for little-endian float32 data in C order, padded with spaces so that its
 * length is a multiple of 64 and at least `minimumBytes` (which lets a header be rewritten in place).
 */
export function encodeNpyFloat32Header(shape: readonly number[], minimumBytes = 0): Uint8Array {
  for (const [axis, size] of shape.entries()) {
    if (!Number.isSafeInteger(size) || size < 0) {
      throw new RangeError(`npy shape[${axis}] must be a non-negative integer; given ${size}`);
    }
  }
  const dict = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shapeLiteral(shape)}, }`;
  const unpadded = PREAMBLE_BYTES + dict.length + 1; // +1 for the closing '\n'
  const wanted = Math.max(unpadded, minimumBytes);
  const total = Math.ceil(wanted / HEADER_ALIGNMENT) * HEADER_ALIGNMENT;
  const headerText = dict + ' '.repeat(total - unpadded) + '\n';
  if (headerText.length > 0xffff) throw new RangeError(`npy header of ${headerText.length} bytes exceeds v1.0's 65535`);

  const bytes = new Uint8Array(total);
  bytes.set(MAGIC, 0);
  bytes[6] = 1; // major version
  bytes[7] = 0; // minor version
  new DataView(bytes.buffer).setUint16(8, headerText.length, true);
  bytes.set(new TextEncoder().encode(headerText), PREAMBLE_BYTES);
  return bytes;
}

/** Appends float32 rows of a fixed width to a `.npy` file and writes the final shape `[rows, width]` on close. */
export class NpyMatrixWriter {
  private rows = 0;
  private closed = false;

  private constructor(
    private readonly file: FileHandle,
    private readonly path: string,
    /** Number of floats in every row. */
    readonly width: number,
    /** Size of the header reserved at the start of the file; the final header is padded to exactly this. */
    private readonly headerBytes: number,
  ) {}

  /** Creates (or truncates) `path` and reserves a header large enough for any row count. */
  static async create(path: string, width: number): Promise<NpyMatrixWriter> {
    if (!Number.isSafeInteger(width) || width <= 0) {
      throw new RangeError(`npy row width must be a positive integer; given ${width}`);
    }
    if (endianness() !== 'LE') throw new Error('npy writing assumes a little-endian host (float32 rows are written as they are)');
    // Reserve room for the widest row count, so closing rewrites the header in place and never moves the data.
    const reserved = encodeNpyFloat32Header([Number.MAX_SAFE_INTEGER, width]).length;
    const header = encodeNpyFloat32Header([0, width], reserved);
    const file = await open(path, 'w');
    await file.write(header, 0, header.length, 0);
    return new NpyMatrixWriter(file, path, width, header.length);
  }

  /** Number of rows written so far. */
  get rowCount(): number {
    return this.rows;
  }

  /** Appends one row; its bytes are written as they are (the host is little-endian, checked at creation). */
  async appendRow(row: Float32Array): Promise<void> {
    if (this.closed) throw new Error(`npy file ${this.path} is already closed`);
    if (row.length !== this.width) {
      throw new RangeError(`npy row ${this.rows} of ${this.path} must hold ${this.width} floats; given ${row.length}`);
    }
    const bytes = new Uint8Array(row.buffer, row.byteOffset, row.byteLength);
    const position = this.headerBytes + this.rows * this.width * Float32Array.BYTES_PER_ELEMENT;
    await this.file.write(bytes, 0, bytes.length, position);
    this.rows += 1;
  }

  /** Writes the final shape into the header and closes the file. Safe to call more than once. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      const header = encodeNpyFloat32Header([this.rows, this.width], this.headerBytes);
      await this.file.write(header, 0, header.length, 0);
    } finally {
      await this.file.close();
    }
  }
}

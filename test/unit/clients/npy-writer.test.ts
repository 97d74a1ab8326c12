import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeNpyFloat32Header, NpyMatrixWriter } from '../../../clients/ts/npy-writer.js';

const folder = mkdtempSync(join(tmpdir(), 'stepwise-npy-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

/** Reads a `.npy` v1.0 file the way NumPy's format spec describes it, independently of the writer. */
function parseNpy(bytes: Buffer): { version: [number, number]; dict: string; dataOffset: number } {
  expect([...bytes.subarray(0, 6)]).toEqual([0x93, ...Buffer.from('NUMPY')]);
  const headerLength = bytes.readUInt16LE(8);
  const dict = bytes.subarray(10, 10 + headerLength).toString('latin1');
  return { version: [bytes[6]!, bytes[7]!], dict, dataOffset: 10 + headerLength };
}

describe('npy writer', () => {
  it('writes a v1.0 header whose total length is a multiple of 64 and that ends with a newline', () => {
    for (const shape of [[0, 1], [3, 32128], [1], [123456789, 7]]) {
      const header = encodeNpyFloat32Header(shape);
      expect(header.length % 64).toBe(0);
      const { version, dict, dataOffset } = parseNpy(Buffer.from(header));
      expect(version).toEqual([1, 0]);
      expect(dataOffset).toBe(header.length);
      expect(dict.endsWith('\n')).toBe(true);
      const tuple = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
      expect(dict.trimEnd()).toBe(`{'descr': '<f4', 'fortran_order': False, 'shape': ${tuple}, }`);
    }
  });

  it('rejects a negative or fractional dimension, naming the axis and the value', () => {
    expect(() => encodeNpyFloat32Header([2, -1])).toThrow('npy shape[1] must be a non-negative integer; given -1');
    expect(() => encodeNpyFloat32Header([1.5, 3])).toThrow('npy shape[0] must be a non-negative integer; given 1.5');
  });

  it('stores appended rows in C order after the header and records the row count on close', async () => {
    const path = join(folder, 'rows.npy');
    const rows = [Float32Array.of(1, -2.5, 3e-8), Float32Array.of(Math.PI, -0, Infinity), Float32Array.of(NaN, 7, 8)];
    const writer = await NpyMatrixWriter.create(path, 3);
    for (const row of rows) await writer.appendRow(row);
    await writer.close();

    const bytes = readFileSync(path);
    const { dict, dataOffset } = parseNpy(bytes);
    expect(dataOffset % 64).toBe(0);
    expect(dict).toContain("'shape': (3, 3)");
    expect(bytes.length).toBe(dataOffset + 3 * 3 * 4);
    const expected = Buffer.concat(rows.map((row) => Buffer.from(row.buffer)));
    expect(bytes.subarray(dataOffset).equals(expected)).toBe(true);
  });

  it('writes rows that are views into a larger buffer without their neighbours', async () => {
    const path = join(folder, 'views.npy');
    const backing = Float32Array.of(9, 9, 1, 2, 9, 9);
    const writer = await NpyMatrixWriter.create(path, 2);
    await writer.appendRow(backing.subarray(2, 4));
    await writer.close();
    const bytes = readFileSync(path);
    const data = bytes.subarray(parseNpy(bytes).dataOffset);
    expect([...new Float32Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.length))]).toEqual([1, 2]);
  });

  it('writes a valid empty matrix when no row was appended', async () => {
    const path = join(folder, 'empty.npy');
    const writer = await NpyMatrixWriter.create(path, 5);
    await writer.close();
    const bytes = readFileSync(path);
    const { dict, dataOffset } = parseNpy(bytes);
    expect(dict).toContain("'shape': (0, 5)");
    expect(bytes.length).toBe(dataOffset);
  });

  it('rejects a row of the wrong width, naming the file, the expected width and the given one', async () => {
    const path = join(folder, 'width.npy');
    const writer = await NpyMatrixWriter.create(path, 4);
    await expect(writer.appendRow(new Float32Array(3))).rejects.toThrow(
      `npy row 0 of ${path} must hold 4 floats; given 3`,
    );
    await writer.close();
  });
});

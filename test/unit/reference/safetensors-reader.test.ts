/**
 * The reference's own safetensors reader, on files assembled byte by byte here from the format's
 * description (so neither the builder's writer nor the reader under test produces the input).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseSafetensors, readSafetensors } from '../../reference/safetensors-reader.js';

/**
 * Builds a safetensors file: u64 LE header length, JSON header (followed by `padding` spaces, which the
 * format allows), data buffer.
 */
function safetensorsBytes(header: object, data: Uint8Array, padding = 0): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header) + ' '.repeat(padding));
  const bytes = new Uint8Array(8 + json.byteLength + data.byteLength);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  bytes.set(json, 8);
  bytes.set(data, 8 + json.byteLength);
  return bytes;
}

function float32Bytes(values: readonly number[]): Uint8Array {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  values.forEach((v, i) => view.setFloat32(i * 4, v, true));
  return bytes;
}

const tempDir = mkdtempSync(join(tmpdir(), 'reference-safetensors-'));
afterAll(() => rmSync(tempDir, { recursive: true, force: true }));

describe('readSafetensors', () => {
  it('returns each F32 tensor with its shape and the values at its data_offsets', () => {
    const matrix = [1.5, -2, 3.25, 0, 7, -0.125];
    const vector = [10, 20];
    const header = {
      __metadata__: { format: 'pt' },
      // Listed out of data order on purpose: offsets, not header order, locate the data.
      'b.vector': { dtype: 'F32', shape: [2], data_offsets: [24, 32] },
      'a.matrix': { dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] },
    };
    const path = join(tempDir, 'two.safetensors');
    writeFileSync(path, safetensorsBytes(header, float32Bytes([...matrix, ...vector])));

    const tensors = readSafetensors(path);
    expect([...tensors.keys()].sort()).toEqual(['a.matrix', 'b.vector']);
    expect(tensors.get('a.matrix')!.shape).toEqual([2, 3]);
    expect([...tensors.get('a.matrix')!.data]).toEqual(matrix);
    expect(tensors.get('b.vector')!.shape).toEqual([2]);
    expect([...tensors.get('b.vector')!.data]).toEqual(vector);
  });

  it('reads tensors whose data does not start on a 4-byte boundary', () => {
    const header = { t: { dtype: 'F32', shape: [3], data_offsets: [0, 12] } };
    const unpaddedDataStart = 8 + JSON.stringify(header).length;
    // Pad the header so that the data starts one byte after a 4-byte boundary.
    const bytes = safetensorsBytes(header, float32Bytes([0.5, 1.5, 2.5]), ((1 - unpaddedDataStart) % 4 + 4) % 4);
    expect((bytes.byteLength - 12) % 4).toBe(1);
    expect([...parseSafetensors(bytes, 'unaligned').get('t')!.data]).toEqual([0.5, 1.5, 2.5]);
  });

  it('rejects a dtype other than F32, naming the tensor and the dtype', () => {
    const header = { half: { dtype: 'F16', shape: [2], data_offsets: [0, 4] } };
    expect(() => parseSafetensors(safetensorsBytes(header, new Uint8Array(4)), 'm.safetensors')).toThrow(
      'm.safetensors: tensor `half` has dtype F16; the reference reads only F32',
    );
  });

  it('rejects data_offsets whose byte span does not match the shape', () => {
    const header = { t: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } };
    expect(() => parseSafetensors(safetensorsBytes(header, new Uint8Array(8)), 'm.safetensors')).toThrow(
      'm.safetensors: tensor `t` spans 8 bytes but shape [3] needs 12',
    );
  });

  it('rejects data_offsets past the end of the data buffer', () => {
    const header = { t: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
    expect(() => parseSafetensors(safetensorsBytes(header, new Uint8Array(4)), 'm.safetensors')).toThrow(
      'm.safetensors: tensor `t` data_offsets [0, 8] lie outside the 4-byte data buffer',
    );
  });

  it('rejects a header length that runs past the end of the file', () => {
    const bytes = new Uint8Array(12);
    new DataView(bytes.buffer).setBigUint64(0, 100n, true);
    expect(() => parseSafetensors(bytes, 'm.safetensors')).toThrow(
      'm.safetensors: header length 100 runs past the end of the file (12 bytes)',
    );
  });
});

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readSafetensors, writeSafetensors, type Float32Tensor } from '../../../src/builder/safetensors.js';
import { tinyModels } from '../../fixtures/models.js';

const scratch = mkdtempSync(join(tmpdir(), 'stepwise-safetensors-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** The names Hugging Face saves for a 2+2-layer T5 (tied embeddings: no lm_head, no embed_tokens). */
function expectedT5Names(options: { gated: boolean; tied: boolean }): string[] {
  const attention = (prefix: string) => ['q', 'k', 'v', 'o'].map((p) => `${prefix}.${p}.weight`);
  const ff = (prefix: string) => (options.gated ? ['wi_0', 'wi_1', 'wo'] : ['wi', 'wo']).map((p) => `${prefix}.DenseReluDense.${p}.weight`);
  const names = ['shared.weight', 'encoder.final_layer_norm.weight', 'decoder.final_layer_norm.weight'];
  names.push('encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight');
  names.push('decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight');
  for (const l of [0, 1]) {
    names.push(...attention(`encoder.block.${l}.layer.0.SelfAttention`), `encoder.block.${l}.layer.0.layer_norm.weight`);
    names.push(...ff(`encoder.block.${l}.layer.1`), `encoder.block.${l}.layer.1.layer_norm.weight`);
    names.push(...attention(`decoder.block.${l}.layer.0.SelfAttention`), `decoder.block.${l}.layer.0.layer_norm.weight`);
    names.push(...attention(`decoder.block.${l}.layer.1.EncDecAttention`), `decoder.block.${l}.layer.1.layer_norm.weight`);
    names.push(...ff(`decoder.block.${l}.layer.2`), `decoder.block.${l}.layer.2.layer_norm.weight`);
  }
  if (!options.tied) names.push('lm_head.weight');
  return names.sort();
}

/** Expected `[out, in]` shape of a tiny-preset weight (d_model 32, 4 heads × d_kv 8, d_ff 64, vocab 606). */
function expectedShape(name: string): number[] {
  if (name === 'shared.weight' || name === 'lm_head.weight') return [606, 32];
  if (name.endsWith('relative_attention_bias.weight')) return [32, 4];
  if (name.endsWith('layer_norm.weight')) return [32];
  if (/\.(q|k|v)\.weight$/.test(name)) return [32, 32];
  if (name.endsWith('.o.weight')) return [32, 32];
  if (/\.wi(_0|_1)?\.weight$/.test(name)) return [64, 32];
  if (name.endsWith('.wo.weight')) return [32, 64];
  throw new Error(`unexpected weight ${name}`);
}

describe('model.safetensors of the tiny fixtures', () => {
  const cases = [
    { dir: tinyModels.reluTied, gated: false, tied: true },
    { dir: tinyModels.reluUntied, gated: false, tied: false },
    { dir: tinyModels.gatedTied, gated: true, tied: true },
    { dir: tinyModels.gatedUntied, gated: true, tied: false },
  ];
  for (const { dir, gated, tied } of cases) {
    it(`holds exactly Hugging Face's T5 names and [out, in] shapes (${gated ? 'gated-gelu' : 'relu'}, ${tied ? 'tied' : 'untied'})`, async () => {
      const { tensors, metadata } = await readSafetensors(join(dir, 'model.safetensors'));
      expect(metadata).toEqual({ format: 'pt' });
      expect([...tensors.keys()].sort()).toEqual(expectedT5Names({ gated, tied }));
      for (const [name, tensor] of tensors) {
        expect(tensor.shape, name).toEqual(expectedShape(name));
        expect(tensor.data.every(Number.isFinite), name).toBe(true);
      }
    });
  }

  it('has the format of the specification: u64 header length, sorted JSON header padded to 8 bytes, contiguous data', () => {
    const bytes = readFileSync(join(tinyModels.reluTied, 'model.safetensors'));
    const headerLength = Number(bytes.readBigUInt64LE(0));
    expect(headerLength % 8).toBe(0);
    const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
    const names = Object.keys(header).filter((name) => name !== '__metadata__');
    expect(names).toEqual([...names].sort());
    let offset = 0;
    for (const name of names) {
      const entry = header[name]!;
      expect(entry.dtype).toBe('F32');
      expect(entry.data_offsets).toEqual([offset, offset + 4 * entry.shape.reduce((a, b) => a * b, 1)]);
      offset = entry.data_offsets[1];
    }
    expect(8 + headerLength + offset).toBe(bytes.length);
  });
});

describe('writeSafetensors / readSafetensors', () => {
  it('round-trip names, shapes, values (including -0, subnormals, ±Infinity and NaN) and metadata', async () => {
    const tensors = new Map<string, Float32Tensor>([
      ['b.matrix', { shape: [2, 3], data: Float32Array.of(1.5, -0, 1e-40, Infinity, -Infinity, NaN) }],
      ['a.scalar', { shape: [], data: Float32Array.of(42) }],
      ['c.empty', { shape: [0, 4], data: new Float32Array(0) }],
    ]);
    const path = join(scratch, 'round-trip.safetensors');
    await writeSafetensors(path, tensors, { format: 'pt', note: 'test' });
    const read = await readSafetensors(path);
    expect(read.metadata).toEqual({ format: 'pt', note: 'test' });
    expect([...read.tensors.keys()]).toEqual(['a.scalar', 'b.matrix', 'c.empty']);
    for (const [name, tensor] of tensors) {
      expect(read.tensors.get(name)!.shape).toEqual(tensor.shape);
      expect(Buffer.from(read.tensors.get(name)!.data.buffer)).toEqual(Buffer.from(tensor.data.buffer));
    }
  });

  it('refuses a tensor whose data does not match its shape, naming the tensor', async () => {
    const bad = new Map([['w', { shape: [2, 2], data: new Float32Array(3) }]]);
    await expect(writeSafetensors(join(scratch, 'bad.safetensors'), bad)).rejects.toThrow(/`w` has 3 values but shape \[2, 2\] needs 4/);
  });

  it('refuses a non-float32 tensor and a truncated file with messages naming them', async () => {
    const header = Buffer.from(JSON.stringify({ w: { dtype: 'F16', shape: [1], data_offsets: [0, 2] } }));
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(BigInt(header.length));
    const f16Path = join(scratch, 'f16.safetensors');
    writeFileSync(f16Path, Buffer.concat([length, header, Buffer.alloc(2)]));
    await expect(readSafetensors(f16Path)).rejects.toThrow(/tensor `w` .* has dtype F16; only F32 is supported/);
    const truncatedPath = join(scratch, 'truncated.safetensors');
    writeFileSync(truncatedPath, Buffer.concat([length, header.subarray(0, 5)]));
    await expect(readSafetensors(truncatedPath)).rejects.toThrow(/declares a \d+-byte header but holds only 5 bytes/);
  });
});

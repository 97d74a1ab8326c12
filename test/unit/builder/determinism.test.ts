import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildModel } from '../../../src/builder/build-model.js';

const scratch = mkdtempSync(join(tmpdir(), 'stepwise-determinism-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function filesOf(folder: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else files.set(relative(folder, path), readFileSync(path));
    }
  };
  walk(folder);
  return files;
}

describe('buildModel determinism', () => {
  const folders = { first: join(scratch, 'seed-7-a'), second: join(scratch, 'seed-7-b'), other: join(scratch, 'seed-8') };
  beforeAll(async () => {
    await buildModel({ preset: 'tiny', seed: 7, feedForwardProj: 'gated-gelu', tieWordEmbeddings: false, out: folders.first });
    await buildModel({ preset: 'tiny', seed: 7, feedForwardProj: 'gated-gelu', tieWordEmbeddings: false, out: folders.second });
    await buildModel({ preset: 'tiny', seed: 8, feedForwardProj: 'gated-gelu', tieWordEmbeddings: false, out: folders.other });
  });

  it('writes byte-identical files for the same options and seed', () => {
    const first = filesOf(folders.first);
    const second = filesOf(folders.second);
    expect([...second.keys()].sort()).toEqual([...first.keys()].sort());
    for (const [name, bytes] of first) expect(second.get(name)!.equals(bytes), name).toBe(true);
  });

  it('writes different weights (safetensors and every ONNX file) for another seed, and the same tokenizer', () => {
    const first = filesOf(folders.first);
    const other = filesOf(folders.other);
    for (const name of ['model.safetensors', 'onnx/encoder_model.onnx', 'onnx/decoder_model.onnx', 'onnx/decoder_with_past_model.onnx', 'onnx/decoder_model_merged.onnx']) {
      expect(other.get(name)!.equals(first.get(name)!), name).toBe(false);
    }
    for (const name of ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'generation_config.json']) {
      expect(other.get(name)!.equals(first.get(name)!), name).toBe(true);
    }
  });

  it('writes the complete Optimum / transformers.js folder layout', () => {
    expect([...filesOf(folders.first).keys()].sort()).toEqual([
      '.stepwise-build.json',
      'config.json',
      'generation_config.json',
      'model.safetensors',
      'onnx/decoder_model.onnx',
      'onnx/decoder_model_merged.onnx',
      'onnx/decoder_with_past_model.onnx',
      'onnx/encoder_model.onnx',
      'special_tokens_map.json',
      'tokenizer.json',
      'tokenizer_config.json',
    ]);
  });
});

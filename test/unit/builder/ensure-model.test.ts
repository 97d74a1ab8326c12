import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildModel, ensureModel } from '../../../src/builder/build-model.js';

const scratch = mkdtempSync(join(tmpdir(), 'stepwise-ensure-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('ensureModel', () => {
  const out = join(scratch, 'model');

  it('builds a missing folder, then reuses it while the options stay the same', async () => {
    expect(await ensureModel({ preset: 'tiny', seed: 3, out })).toBe(true);
    const builtAt = statSync(join(out, 'model.safetensors')).mtimeMs;
    expect(await ensureModel({ preset: 'tiny', seed: 3, out })).toBe(false);
    expect(statSync(join(out, 'model.safetensors')).mtimeMs).toBe(builtAt);
  });

  it('rebuilds when any option differs from the recorded build', async () => {
    expect(await ensureModel({ preset: 'tiny', seed: 4, out })).toBe(true);
    expect(await ensureModel({ preset: 'tiny', seed: 4, feedForwardProj: 'gated-gelu', out })).toBe(true);
    expect(await ensureModel({ preset: 'tiny', seed: 4, feedForwardProj: 'gated-gelu', padVocabToMultiple: 64, out })).toBe(true);
    expect(await ensureModel({ preset: 'tiny', seed: 4, feedForwardProj: 'gated-gelu', padVocabToMultiple: 64, out })).toBe(false);
  });

  it('rebuilds a folder whose build record is altered', async () => {
    writeFileSync(join(out, '.stepwise-build.json'), '{}');
    expect(await ensureModel({ preset: 'tiny', out })).toBe(true);
  });

  it('refuses a folder without a build record (one it did not write) unless forced', async () => {
    rmSync(join(out, '.stepwise-build.json'));
    await expect(ensureModel({ preset: 'tiny', out })).rejects.toMatchObject({ name: 'OutputFolderRefused', message: expect.stringContaining('--force') });
    expect(await ensureModel({ preset: 'tiny', out, force: true })).toBe(true);
  });

  it('rebuilds when only the decoder files asked for differ', async () => {
    expect(await ensureModel({ preset: 'tiny', out, decoders: 'merged' })).toBe(true);
    expect(readdirSync(join(out, 'onnx')).sort()).toEqual(['decoder_model_merged.onnx', 'encoder_model.onnx']);
    expect(await ensureModel({ preset: 'tiny', out, decoders: 'merged' })).toBe(false);
  });

  it('reports every file it writes, with its size in the finished folder', async () => {
    const reported: Array<{ file: string; bytes: number }> = [];
    const progressOut = join(scratch, 'progress');
    await buildModel({ preset: 'tiny', out: progressOut, decoders: 'merged', onProgress: ({ file, bytes }) => reported.push({ file, bytes }) });
    expect(reported.map(({ file }) => file).sort()).toEqual([
      '.stepwise-build.json', 'config.json', 'generation_config.json', 'model.safetensors', 'onnx/decoder_model_merged.onnx', 'onnx/encoder_model.onnx',
      'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json',
    ]);
    for (const { file, bytes } of reported) expect(statSync(join(progressOut, file)).size, file).toBe(bytes);
  });

  it('several builds of one folder at once all succeed and leave one current folder, no temporary one', async () => {
    const shared = join(scratch, 'shared');
    const results = await Promise.all(Array.from({ length: 4 }, () => ensureModel({ preset: 'tiny', seed: 9, out: shared })));
    expect(results).toContain(true);
    expect(await ensureModel({ preset: 'tiny', seed: 9, out: shared })).toBe(false);
    expect(readdirSync(scratch).filter((name) => name.includes('.partial-'))).toEqual([]);
  });

  it('fails on an unreadable tokenizer file, naming it, and leaves no temporary folder behind', async () => {
    await expect(buildModel({ preset: 'tiny', tokenizerPath: join(scratch, 'missing.json'), out: join(scratch, 'failed') })).rejects.toThrow(/`tokenizer`: cannot read .*missing\.json/);
    expect(readdirSync(scratch).filter((name) => name.includes('.partial-'))).toEqual([]);
  });
});

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

  it('rebuilds a folder whose build record is missing or altered', async () => {
    rmSync(join(out, '.stepwise-build.json'));
    expect(await ensureModel({ preset: 'tiny', out })).toBe(true);
    writeFileSync(join(out, '.stepwise-build.json'), '{}');
    expect(await ensureModel({ preset: 'tiny', out })).toBe(true);
  });

  it('fails on an unreadable tokenizer file, naming it, and leaves no temporary folder behind', async () => {
    await expect(buildModel({ preset: 'tiny', tokenizerPath: join(scratch, 'missing.json'), out: join(scratch, 'failed') })).rejects.toThrow(/`tokenizer`: cannot read .*missing\.json/);
    expect(readdirSync(scratch).filter((name) => name.includes('.partial-'))).toEqual([]);
  });
});

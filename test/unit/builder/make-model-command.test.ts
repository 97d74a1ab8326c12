import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { register } from '../../../src/cli/make-model-command.js';
import { resolveModelSpec, validateModelOptions } from '../../../src/builder/model-spec.js';

const scratch = mkdtempSync(join(tmpdir(), 'stepwise-make-model-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Runs `stepwise make-model ...args` in-process; returns what it printed (or throws commander's error). */
async function makeModel(args: string[]): Promise<{ stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const program = new Command().exitOverride().configureOutput({ writeOut: (text) => { stdout += text; }, writeErr: (text) => { stderr += text; } });
  register(program);
  program.commands.forEach((command) => command.exitOverride().configureOutput({ writeErr: (text) => { stderr += text; } }));
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string) => { stdout += chunk; return true; }) as typeof process.stdout.write;
  try {
    await program.parseAsync(['make-model', ...args], { from: 'user' });
  } finally {
    process.stdout.write = write;
  }
  return { stdout, stderr };
}

const config = (dir: string) => JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;

describe('stepwise make-model', () => {
  it('writes the folder with the options given and lists its files', async () => {
    const out = join(scratch, 'gated-untied');
    const { stdout } = await makeModel(['--preset', 'tiny', '--out', out, '--seed', '5', '--feed-forward-proj', 'gated-gelu', '--no-tie-word-embeddings', '--pad-vocab-to-multiple', '64']);
    expect(config(out)).toMatchObject({ feed_forward_proj: 'gated-gelu', tie_word_embeddings: false, vocab_size: 640, stepwise_build: { preset: 'tiny', seed: 5 } });
    expect(stdout).toContain('onnx/decoder_model_merged.onnx');
    expect(stdout).toContain('model.safetensors');
  });

  it('defaults to seed 0, relu and tied embeddings', async () => {
    const out = join(scratch, 'defaults');
    await makeModel(['--preset', 'tiny', '--out', out]);
    expect(config(out)).toMatchObject({ feed_forward_proj: 'relu', tie_word_embeddings: true, vocab_size: 606, stepwise_build: { seed: 0 } });
  });

  it('rejects an unknown preset, listing the allowed ones, and writes nothing', async () => {
    const out = join(scratch, 'unknown-preset');
    await expect(makeModel(['--preset', 'huge', '--out', out])).rejects.toThrow(/Allowed choices are tiny, t5-small/);
    expect(existsSync(out)).toBe(false);
  });

  it('rejects a malformed --pad-vocab-to-multiple and --seed with the range and the value given', async () => {
    await expect(makeModel(['--preset', 'tiny', '--out', join(scratch, 'x'), '--pad-vocab-to-multiple', '0'])).rejects.toThrow(
      /`--pad-vocab-to-multiple` must be an integer in \[1, 65536\]; given 0/,
    );
    await expect(makeModel(['--preset', 'tiny', '--out', join(scratch, 'x'), '--seed', '-3'])).rejects.toThrow(/`--seed` must be an integer in \[0, 4294967295\]; given -3/);
  });

  it('requires --preset and --out', async () => {
    await expect(makeModel(['--out', join(scratch, 'y')])).rejects.toThrow(/--preset/);
    await expect(makeModel(['--preset', 'tiny'])).rejects.toThrow(/--out/);
  });
});

describe('model options in code', () => {
  it('reject out-of-range values with the option, the allowed range and the value given', () => {
    expect(() => validateModelOptions({ preset: 'tiny', seed: 1.5 })).toThrow('`seed` must be an integer in [0, 4294967295]; given 1.5');
    expect(() => validateModelOptions({ preset: 'tiny', padVocabToMultiple: 0 })).toThrow('`pad-vocab-to-multiple` must be an integer in [1, 65536]; given 0');
    expect(() => validateModelOptions({ preset: 'big' as never })).toThrow('`preset` must be one of tiny, t5-small; given "big"');
    expect(() => validateModelOptions({ preset: 'tiny', feedForwardProj: 'gelu' as never })).toThrow('`feed-forward-proj` must be one of relu, gated-gelu; given "gelu"');
  });

  it('give t5-small its exact shapes with the built-in tokenizer (logits 32128 wide)', () => {
    expect(resolveModelSpec({ preset: 't5-small' }, 606)).toMatchObject({
      dModel: 512, dKv: 64, dFf: 2048, numLayers: 6, numDecoderLayers: 6, numHeads: 8, vocabSize: 32128, feedForwardProj: 'relu', tieWordEmbeddings: true,
    });
  });
});

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { register } from '../../../src/cli/make-model-command.js';
import { onFile } from '../../../src/builder/file-errors.js';
import { resolveModelSpec, validateModelOptions } from '../../../src/builder/model-spec.js';

const scratch = mkdtempSync(join(tmpdir(), 'stepwise-make-model-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/**
 * Runs `stepwise make-model ...args` in-process; returns what it printed and the exit code it set (or throws
 * commander's error).
 */
async function makeModel(args: string[]): Promise<{ stdout: string; stderr: string; exitCode: number }> {
  let stdout = '';
  let stderr = '';
  const program = new Command().exitOverride().configureOutput({ writeOut: (text) => { stdout += text; }, writeErr: (text) => { stderr += text; } });
  register(program);
  program.commands.forEach((command) => command.exitOverride().configureOutput({ writeErr: (text) => { stderr += text; } }));
  const write = process.stdout.write.bind(process.stdout);
  const writeErr = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: string) => { stdout += chunk; return true; }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string) => { stderr += chunk; return true; }) as typeof process.stderr.write;
  const exitCodeBefore = process.exitCode;
  try {
    await program.parseAsync(['make-model', ...args], { from: 'user' });
    return { stdout, stderr, exitCode: Number(process.exitCode ?? 0) };
  } finally {
    process.stdout.write = write;
    process.stderr.write = writeErr;
    process.exitCode = exitCodeBefore;
  }
}

/** `stepwise make-model ...args` as a user runs it: a child process. */
function makeModelProcess(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const { status, stdout, stderr } = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'make-model', ...args], { encoding: 'utf8' });
  return { status, stdout, stderr };
}

const onnxFiles = (dir: string) => readdirSync(join(dir, 'onnx')).sort();

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

describe('make-model and an existing --out', () => {
  it('refuses a folder it did not write, naming what is there, and leaves it untouched', async () => {
    const project = join(scratch, 'project');
    mkdirSync(join(project, 'src'), { recursive: true });
    for (const name of ['README.md', 'package.json', 'LICENSE']) writeFileSync(join(project, name), name);
    const { stderr, exitCode, stdout } = await makeModel(['--preset', 'tiny', '--out', project]);
    expect(exitCode).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toContain(
      `make-model: ${project} exists and is not a model folder written by make-model (it has no .stepwise-build.json; it holds LICENSE, README.md, package.json and 1 more); choose another --out, or add --force to replace the folder and everything in it`,
    );
    expect(readdirSync(project).sort()).toEqual(['LICENSE', 'README.md', 'package.json', 'src']);
    expect(readdirSync(scratch).filter((name) => name.includes('.partial-'))).toEqual([]);
  });

  it('refuses a file in place of the folder', async () => {
    const file = join(scratch, 'notes.txt');
    writeFileSync(file, 'keep me');
    const { stderr, exitCode } = await makeModel(['--preset', 'tiny', '--out', file]);
    expect(exitCode).toBe(1);
    expect(stderr).toContain(`make-model: ${file} exists and is not a folder; choose another --out, or add --force to replace it`);
    expect(readFileSync(file, 'utf8')).toBe('keep me');
  });

  it('replaces such a folder with --force', async () => {
    const project = join(scratch, 'forced');
    mkdirSync(project);
    writeFileSync(join(project, 'old.txt'), 'old');
    expect((await makeModel(['--preset', 'tiny', '--out', project, '--force'])).exitCode).toBe(0);
    expect(existsSync(join(project, 'old.txt'))).toBe(false);
    expect(config(project)).toMatchObject({ stepwise_build: { preset: 'tiny' } });
  });

  it('writes into an empty folder, and replaces a model folder it wrote before without --force', async () => {
    const out = join(scratch, 'empty');
    mkdirSync(out);
    expect((await makeModel(['--preset', 'tiny', '--out', out, '--seed', '1'])).exitCode).toBe(0);
    expect((await makeModel(['--preset', 'tiny', '--out', out, '--seed', '2'])).exitCode).toBe(0);
    expect(config(out)).toMatchObject({ stepwise_build: { seed: 2 } });
  });
});

describe('make-model --decoders', () => {
  it('merged writes the merged decoder only; split the pair only; both (the default) all three', async () => {
    const folders = { merged: join(scratch, 'merged'), split: join(scratch, 'split'), both: join(scratch, 'both') };
    await makeModel(['--preset', 'tiny', '--out', folders.merged, '--decoders', 'merged']);
    await makeModel(['--preset', 'tiny', '--out', folders.split, '--decoders', 'split']);
    await makeModel(['--preset', 'tiny', '--out', folders.both]);
    expect(onnxFiles(folders.merged)).toEqual(['decoder_model_merged.onnx', 'encoder_model.onnx']);
    expect(onnxFiles(folders.split)).toEqual(['decoder_model.onnx', 'decoder_with_past_model.onnx', 'encoder_model.onnx']);
    expect(onnxFiles(folders.both)).toEqual(['decoder_model.onnx', 'decoder_model_merged.onnx', 'decoder_with_past_model.onnx', 'encoder_model.onnx']);
    const stamp = (dir: string) => JSON.parse(readFileSync(join(dir, '.stepwise-build.json'), 'utf8')) as { decoders: string };
    expect([stamp(folders.merged).decoders, stamp(folders.split).decoders, stamp(folders.both).decoders]).toEqual(['merged', 'split', 'both']);
  });

  it('rejects another value, listing the allowed ones', async () => {
    await expect(makeModel(['--preset', 'tiny', '--out', join(scratch, 'z'), '--decoders', 'none'])).rejects.toThrow(/Allowed choices are merged, split, both/);
  });
});

describe('make-model failures as a user sees them', () => {
  it('a file-system failure is one line on stderr naming the file, exit code 1, no stack trace', () => {
    const file = join(scratch, 'a-file');
    writeFileSync(file, '');
    const { status, stderr, stdout } = makeModelProcess(['--preset', 'tiny', '--out', join(file, 'model')]);
    expect(status).toBe(1);
    expect(stdout).toBe('');
    const lines = stderr.trim().split('\n');
    expect(lines.at(-1)).toBe(`make-model: cannot read ${join(file, 'model')}: not a directory (ENOTDIR)`);
    expect(stderr).not.toMatch(/^\s+at /m);
  });

  it('a write that fails names the file as it is in the finished folder (ENOSPC from /dev/full)', async () => {
    const failure = onFile('write', '/data/t5/onnx/decoder_model_merged.onnx', () => writeFile('/dev/full', 'bytes'));
    await expect(failure).rejects.toThrow('cannot write /data/t5/onnx/decoder_model_merged.onnx: no space left on device (ENOSPC)');
    await expect(failure).rejects.toMatchObject({ name: 'BuildFileError', code: 'ENOSPC' });
  });

  it('prints no progress for a build under a second, only the line that starts it', async () => {
    const { stderr } = await makeModel(['--preset', 'tiny', '--out', join(scratch, 'quiet')]);
    expect(stderr).toBe(`make-model: building tiny (seed 0, decoders both) into ${join(scratch, 'quiet')}\n`);
  });
});

describe('model options in code', () => {
  it('reject out-of-range values with the option, the allowed range and the value given', () => {
    expect(() => validateModelOptions({ preset: 'tiny', seed: 1.5 })).toThrow('`seed` must be an integer in [0, 4294967295]; given 1.5');
    expect(() => validateModelOptions({ preset: 'tiny', padVocabToMultiple: 0 })).toThrow('`pad-vocab-to-multiple` must be an integer in [1, 65536]; given 0');
    expect(() => validateModelOptions({ preset: 'big' as never })).toThrow('`preset` must be one of tiny, t5-small; given "big"');
    expect(() => validateModelOptions({ preset: 'tiny', feedForwardProj: 'gelu' as never })).toThrow('`feed-forward-proj` must be one of relu, gated-gelu; given "gelu"');
    expect(() => validateModelOptions({ preset: 'tiny', decoders: 'all' as never })).toThrow('`decoders` must be one of merged, split, both; given "all"');
  });

  it('give t5-small its exact shapes with the built-in tokenizer (logits 32128 wide)', () => {
    expect(resolveModelSpec({ preset: 't5-small' }, 606)).toMatchObject({
      dModel: 512, dKv: 64, dFf: 2048, numLayers: 6, numDecoderLayers: 6, numHeads: 8, vocabSize: 32128, feedForwardProj: 'relu', tieWordEmbeddings: true,
    });
  });
});

describe('stepwise make-model --dtypes', () => {
  it('writes every ONNX file once per format, with the suffixes transformers.js loads', async () => {
    const out = join(scratch, 'all-dtypes');
    const { stdout } = await makeModel(['--preset', 'tiny', '--out', out, '--decoders', 'merged', '--dtypes', 'q8,fp32,fp16']);
    expect(onnxFiles(out)).toEqual([
      'decoder_model_merged.onnx',
      'decoder_model_merged_fp16.onnx',
      'decoder_model_merged_quantized.onnx',
      'encoder_model.onnx',
      'encoder_model_fp16.onnx',
      'encoder_model_quantized.onnx',
    ]);
    expect(stdout).toContain('onnx/encoder_model_quantized.onnx');
  });

  it('writes only the formats listed, fp32 included only when listed; fp32 alone by default', async () => {
    const out = join(scratch, 'fp16-only');
    await makeModel(['--preset', 'tiny', '--out', out, '--decoders', 'merged', '--dtypes', 'fp16', '--float16-io', 'float16']);
    expect(onnxFiles(out)).toEqual(['decoder_model_merged_fp16.onnx', 'encoder_model_fp16.onnx']);
    const plain = join(scratch, 'fp32-default');
    await makeModel(['--preset', 'tiny', '--out', plain, '--decoders', 'merged']);
    expect(onnxFiles(plain)).toEqual(['decoder_model_merged.onnx', 'encoder_model.onnx']);
  });

  it('rejects an unknown format, naming the flag, the choices and the value given', async () => {
    await expect(makeModel(['--preset', 'tiny', '--out', join(scratch, 'z'), '--dtypes', 'fp32,int4'])).rejects.toThrow(
      '`--dtypes` must be a comma-separated list of fp32, fp16, q8; given "fp32,int4"',
    );
    await expect(makeModel(['--preset', 'tiny', '--out', join(scratch, 'z'), '--float16-io', 'bf16'])).rejects.toThrow(/Allowed choices are float32, float16/);
    expect(existsSync(join(scratch, 'z'))).toBe(false);
  });
});

/** `stepwise serve --dtype`: one format, or one per file; a format the folder lacks is refused naming the file. */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { tinyModels } from '../../fixtures/models.js';

interface Outcome {
  readonly code: number | null;
  readonly log: string;
  readonly served: boolean;
}

/** Runs `stepwise serve --port 0 ...args` until it reports serving (then stops it) or exits. */
async function serve(args: readonly string[], env: Record<string, string> = {}): Promise<Outcome> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'serve', '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let log = '';
  const served = await new Promise<boolean>((resolve) => {
    const onOutput = (chunk: Buffer): void => {
      log += chunk.toString();
      if (/serving model .* on 127\.0\.0\.1:\d+/.test(log)) resolve(true);
    };
    child.stdout.on('data', onOutput);
    child.stderr.on('data', onOutput);
    child.once('exit', () => resolve(false));
  });
  if (served) {
    child.kill('SIGTERM');
    await once(child, 'exit');
  }
  return { code: child.exitCode, log, served };
}

describe('stepwise serve --dtype', () => {
  it('serves a folder\'s q8 files, and a mix by file given in the environment', async () => {
    const q8 = await serve(['--model', tinyModels.dtypesRelu, '--dtype', 'q8']);
    expect(q8.served, q8.log).toBe(true);
    const mixed = await serve(['--model', tinyModels.dtypesRelu], { STEPWISE_DTYPE: 'encoder=fp16,decoder=q8' });
    expect(mixed.served, mixed.log).toBe(true);
  });

  it('refuses a format the folder lacks, naming the file and the formats it has', async () => {
    const outcome = await serve(['--model', tinyModels.fp16Io, '--dtype', 'encoder=fp32,decoder=q8']);
    expect(outcome.served).toBe(false);
    expect(outcome.code).not.toBe(0);
    expect(outcome.log).toContain('onnx/decoder_model_merged_quantized.onnx: file is missing (dtype q8, asked for as encoder=fp32,decoder=q8)');
    expect(outcome.log).toContain('the folder has decoder_model_merged as fp32 (onnx/decoder_model_merged.onnx), fp16 (onnx/decoder_model_merged_fp16.onnx)');
  });

  it('refuses a per-file value it cannot read, naming the flag and the forms it takes', async () => {
    const outcome = await serve(['--model', tinyModels.dtypesRelu, '--dtype', 'encoder=fp32,lm_head=q8']);
    expect(outcome.served).toBe(false);
    expect(outcome.log).toContain(
      '`--dtype` must be one of fp32, fp16, q8, int8, uint8, q4, q4f16, bnb4, or per file as encoder=DTYPE,decoder=DTYPE; given encoder=fp32,lm_head=q8',
    );
  });
});

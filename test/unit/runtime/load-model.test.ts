/**
 * Loading model folders: every fixture variant, the split layout when no merged file exists, the
 * dtype variants by file-name suffix, and the config values the runtime exposes.
 */
import { rm, readdir, rename } from 'node:fs/promises';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { loadModel, ModelFolderError } from '../../../src/runtime/index.js';
import { copyModelFolder, expectRowsClose, tinyModels, greedyDecode, stateForText } from './runtime-test-kit.js';

describe('loadModel', () => {
  it.each(Object.entries(tinyModels))('loads %s with its config, tokenizer and merged decoder', async (_, folder) => {
    const model = await loadModel(folder);
    try {
      expect(model.info.decoderLayout).toBe('merged');
      expect(model.info.dtype).toBe('fp32');
      expect(model.info.config.modelType).toBe('t5');
      expect(model.info.vocabSize).toBe(model.info.config.vocabSize);
      expect(model.tokenizer.size).toBeLessThanOrEqual(model.info.vocabSize);
      expect(model.info.specialIds).toEqual({ pad: 0, eos: 1, unk: 2, decoderStart: 0 });
      expect(model.info.generation.eosTokenIds).toEqual([1]);
      expect(model.info.maxInputLength).toBe(512);
      const state = await stateForText(model, 'hello world');
      const [row] = await model.step([state]);
      expect(row).toHaveLength(model.info.vocabSize);
      expect(row!.every(Number.isFinite)).toBe(true);
      state.dispose();
    } finally {
      await model.dispose();
    }
  });

  it('reads the shapes and feed-forward kind of each variant from config.json', async () => {
    const gated = await loadModel(tinyModels.gatedUntied);
    expect(gated.info.config.feedForwardProj).toBe('gated-gelu');
    expect(gated.info.config.tieWordEmbeddings).toBe(false);
    expect(gated.info.config.numDecoderLayers).toBe(gated.info.config.numLayers);
    await gated.dispose();
    const padded = await loadModel(tinyModels.padded);
    // The padded fixture's logits are wider than its tokenizer, like t5-small's 32128 vs 32100.
    expect(padded.info.vocabSize).toBeGreaterThan(padded.tokenizer.size);
    await padded.dispose();
  });

  it('uses the split decoder when the folder has no merged file, with the same logits', async () => {
    const folder = await copyModelFolder(tinyModels.reluTied);
    await rm(join(folder, 'onnx', 'decoder_model_merged.onnx'));
    const split = await loadModel(folder);
    const merged = await loadModel(tinyModels.reluTied);
    expect(split.info.decoderLayout).toBe('split');
    const a = await greedyDecode(split, await stateForText(split, 'a b c'), 4);
    const b = await greedyDecode(merged, await stateForText(merged, 'a b c'), 4);
    a.rows.forEach((row, step) => expectRowsClose(row, b.rows[step]!));
    await split.dispose();
    await merged.dispose();
  });

  it('accepts ONNX files next to config.json (plain Optimum export) as well as in onnx/', async () => {
    const folder = await copyModelFolder(tinyModels.reluTied);
    for (const file of await readdir(join(folder, 'onnx'))) await rename(join(folder, 'onnx', file), join(folder, file));
    await rm(join(folder, 'onnx'), { recursive: true });
    const model = await loadModel(folder);
    expect(model.info.decoderLayout).toBe('merged');
    await model.dispose();
  });

  it('loads the *_quantized files for dtype q8 and the *_fp16 files for fp16', async () => {
    const folder = await copyModelFolder(tinyModels.reluTied);
    // The builder writes fp32 only; files with the variant names stand in for real quantized exports,
    // which keep float32 inputs and outputs and so the same contract.
    for (const base of ['encoder_model', 'decoder_model_merged']) {
      await rename(join(folder, 'onnx', `${base}.onnx`), join(folder, 'onnx', `${base}_quantized.onnx`));
    }
    const quantized = await loadModel(folder, { dtype: 'q8' });
    expect(quantized.info.dtype).toBe('q8');
    expect(quantized.info.decoderLayout).toBe('merged');
    await quantized.dispose();

    const missing = loadModel(folder, { dtype: 'fp16' });
    await expect(missing).rejects.toThrow(ModelFolderError);
    await expect(missing).rejects.toThrow(/onnx\/encoder_model_fp16\.onnx: file is missing \(dtype fp16\)/);
  });

  it('takes session options and a name, and reports the name', async () => {
    const model = await loadModel(tinyModels.reluTied, {
      name: 'tiny',
      intraOpNumThreads: 1,
      graphOptimizationLevel: 'basic',
      maxInputLength: 16,
    });
    expect(model.info.name).toBe('tiny');
    expect(model.info.maxInputLength).toBe(16);
    await model.dispose();
  });

  it("with tokenizer 'facts' keeps the tokenizer's sizes and ids, decodes the same, and refuses to tokenize", async () => {
    const [full, facts] = await Promise.all([loadModel(tinyModels.reluTied), loadModel(tinyModels.reluTied, { tokenizer: 'facts' })]);
    try {
      expect(facts.tokenizer.size).toBe(full.tokenizer.size);
      expect(facts.info.specialIds).toEqual(full.info.specialIds);
      expect(facts.info.maxInputLength).toBe(full.info.maxInputLength);
      expect(() => facts.tokenizer.encode('the house')).toThrow("this model was loaded with `tokenizer: 'facts'`");
      expect(() => facts.tokenizer.decode([5])).toThrow('keeps no vocabulary');
      const ids = full.tokenizer.encode('the small house');
      const rows = await Promise.all(
        [full, facts].map(async (model) => {
          const [encoded] = await model.encode([ids]);
          const state = model.createState(encoded!);
          const [row] = await model.step([state]);
          const copy = Float32Array.from(row!);
          state.dispose();
          return copy;
        }),
      );
      expect(Array.from(rows[1]!)).toEqual(Array.from(rows[0]!));
    } finally {
      await Promise.all([full.dispose(), facts.dispose()]);
    }
  });

  it('refuses an unknown tokenizer option, naming it', async () => {
    await expect(loadModel(tinyModels.reluTied, { tokenizer: 'some' as 'full' })).rejects.toThrow(
      '`tokenizer` must be one of full, facts; given "some"',
    );
  });

  it('warmUp runs both decoder paths and leaves no state behind', async () => {
    const model = await loadModel(tinyModels.reluTied);
    await model.warmUp();
    expect(model.liveStates).toBe(0);
    await model.dispose();
  });
});

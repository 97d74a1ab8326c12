/**
 * `dtype` picks the files of a format, for the whole folder or per file; fp16 files with float16 inputs
 * and outputs run like those with float32 edges; a missing variant is named with what the folder has.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, ModelFolderError, type ModelRuntime } from '../../../src/runtime/index.js';
import { tinyModels } from '../../fixtures/models.js';

const inputs = [
  [5, 17, 42, 9, 1],
  [33, 1],
  [7, 8, 9, 10, 11, 12, 13, 1],
];

/** Largest |a − b| relative to the largest |b|. */
function relativeDifference(a: Float32Array, b: Float32Array): number {
  let largest = 0;
  let difference = 0;
  for (let i = 0; i < b.length; i++) {
    largest = Math.max(largest, Math.abs(b[i]!));
    difference = Math.max(difference, Math.abs(a[i]! - b[i]!));
  }
  return difference / largest;
}

/** Greedy rows of `steps` steps for each input, each sequence stepped alone. */
async function rowsAlone(model: ModelRuntime, steps: number): Promise<Float32Array[][]> {
  const all: Float32Array[][] = [];
  for (const ids of inputs) {
    const [encoded] = await model.encode([ids]);
    const state = model.createState(encoded!);
    const rows: Float32Array[] = [];
    for (let step = 0; step < steps; step++) {
      const [row] = await model.step([state]);
      rows.push(row!.slice());
      state.append(3 + step);
    }
    state.dispose();
    all.push(rows);
  }
  return all;
}

describe('fp16 files with float16 inputs and outputs', () => {
  let float16Edges: ModelRuntime;
  let float32Edges: ModelRuntime;
  beforeAll(async () => {
    float16Edges = await loadModel(tinyModels.fp16Io, { dtype: 'fp16' });
    float32Edges = await loadModel(tinyModels.dtypesRelu, { dtype: 'fp16' }); // the same weights
  });
  afterAll(async () => {
    await float16Edges?.dispose();
    await float32Edges?.dispose();
  });

  it('give exactly the logits of the fp16 files with float32 edges (the edge casts are exact)', async () => {
    expect(await rowsAlone(float16Edges, 5)).toEqual(await rowsAlone(float32Edges, 5));
  });

  it('step sequences of different lengths in one batch as each alone, within float16 rounding (caches regrouped as bits)', async () => {
    const alone = await rowsAlone(float16Edges, 4);
    const encoded = await float16Edges.encode(inputs);
    const states = encoded.map((input) => float16Edges.createState(input));
    // All three, then the first two and the last alone (regrouped), then all three again (stacked anew).
    const groupings = [[states], [states.slice(0, 2), states.slice(2)], [states], [states]];
    for (const [step, groups] of groupings.entries()) {
      for (const group of groups) {
        const rows = await float16Edges.step(group);
        // Another batch size changes the float16 kernels' rounding, not the result beyond it.
        group.forEach((state, index) => expect(relativeDifference(rows[index]!, alone[states.indexOf(state)]![step]!)).toBeLessThan(0.01));
      }
      states.forEach((state) => state.append(3 + step));
    }
    states.forEach((state) => state.dispose());
  });

  it('score targets with the rows stepping gives, widened from float16 the same way', async () => {
    const alone = await rowsAlone(float16Edges, 4);
    const encoded = await float16Edges.encode(inputs);
    const scored = await float16Edges.score(encoded.map((input) => ({ encoded: input, tokens: [3, 4, 5, 6] })));
    scored.forEach((rows, target) => {
      const width = float16Edges.info.vocabSize;
      for (let step = 0; step < 4; step++) {
        // One pass over the whole target instead of cached steps: float16 rounding differs, nothing more.
        expect(relativeDifference(rows.subarray(step * width, (step + 1) * width), alone[target]![step]!)).toBeLessThan(0.01);
      }
    });
  });

  it('run as the split pair too (decoder_model_fp16 + decoder_with_past_model_fp16), as the merged file does', async () => {
    const split = await loadModel(tinyModels.fp16Io, { dtype: 'fp16', decoderLayout: 'split' });
    try {
      expect(split.info.decoderLayout).toBe('split');
      const [splitRows, mergedRows] = [await rowsAlone(split, 4), await rowsAlone(float16Edges, 4)];
      splitRows.flat().forEach((row, i) => expect(relativeDifference(row, mergedRows.flat()[i]!)).toBeLessThan(0.01));
    } finally {
      await split.dispose();
    }
  });

  it('serve the encoder output as float32 to callers', async () => {
    const [encoded] = await float16Edges.encode([inputs[0]!]);
    expect(encoded!.hiddenStates).toBeInstanceOf(Float32Array);
    expect(encoded!.hiddenStates.length).toBe(inputs[0]!.length * 32);
  });
});

describe('dtype per file', () => {
  it('encoder=fp32,decoder=fp16 on float16-edged files converts the encoder output once and decodes within fp16 tolerance of fp32', async () => {
    const mixed = await loadModel(tinyModels.fp16Io, { dtype: { encoder: 'fp32', decoder: 'fp16' } });
    const fp32 = await loadModel(tinyModels.fp16Io);
    try {
      expect(mixed.info.dtype).toEqual({ encoder: 'fp32', decoder: 'fp16' });
      const [mixedRows, fp32Rows] = [await rowsAlone(mixed, 3), await rowsAlone(fp32, 3)];
      mixedRows.flat().forEach((row, i) => {
        const want = fp32Rows.flat()[i]!;
        expect(relativeDifference(row, want)).toBeLessThan(0.02);
      });
    } finally {
      await mixed.dispose();
      await fp32.dispose();
    }
  });

  it('one format named for both files is reported as that format', async () => {
    const model = await loadModel(tinyModels.dtypesRelu, { dtype: { encoder: 'q8', decoder: 'q8' } });
    expect(model.info.dtype).toBe('q8');
    await model.dispose();
  });

  it('a variant the folder lacks is a ModelFolderError naming the file and the formats the folder has', async () => {
    const loading = loadModel(tinyModels.fp16Io, { dtype: { encoder: 'fp32', decoder: 'q8' } });
    await expect(loading).rejects.toThrow(ModelFolderError);
    await expect(loading).rejects.toThrow(
      'onnx/decoder_model_merged_quantized.onnx: file is missing (dtype q8, asked for as encoder=fp32,decoder=q8), ' +
        'and neither is the split pair onnx/decoder_model_quantized.onnx, onnx/decoder_with_past_model_quantized.onnx; looked in',
    );
    await expect(loading).rejects.toThrow(
      'the folder has decoder_model_merged as fp32 (onnx/decoder_model_merged.onnx), fp16 (onnx/decoder_model_merged_fp16.onnx)',
    );
    await expect(loadModel(tinyModels.fp16Io, { dtype: { encoder: 'fp16', decoder: 'q8' }, decoderLayout: 'split' })).rejects.toThrow(
      'the folder has decoder_model as fp32 (onnx/decoder_model.onnx), fp16 (onnx/decoder_model_fp16.onnx)',
    );
    await expect(loadModel(tinyModels.reluTied, { dtype: 'fp16' })).rejects.toThrow(
      'onnx/encoder_model_fp16.onnx: file is missing (dtype fp16); looked in',
    );
  });

  it('a per-file choice naming an unknown file or format is refused', async () => {
    await expect(loadModel(tinyModels.dtypesRelu, { dtype: { encoder: 'fp32', decoder: 'fp8' } as never })).rejects.toThrow(
      '`dtype` must be one of fp32, fp16, q8',
    );
    await expect(loadModel(tinyModels.dtypesRelu, { dtype: { lm_head: 'fp32' } as never })).rejects.toThrow(
      '`dtype` must be a dtype name or { encoder, decoder }',
    );
  });
});

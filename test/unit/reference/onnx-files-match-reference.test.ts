/**
 * The builder's ONNX files, run directly through onnxruntime-node (no Stepwise runtime in between),
 * equal the independent T5 reference. This guards the builder on its own: a wrong graph fails here
 * even if the runtime happened to compensate for it.
 *
 * The lengths are chosen to reach every kind of relative position: an encoder input of 140 ids and a
 * decoder input of 130 ids pass the 128 maximum distance, so the saturated last buckets are used.
 */
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { T5Reference } from '../../reference/t5-reference.js';
import { ErrorLedger, inputIds, MAX_ABS_ERROR, maxAbsDifference } from './agreement.js';
import { modelVariants, paddedVariant } from './model-variants.js';

const ENCODER_LENGTHS = [1, 30, 140];
/** Longer than `relative_attention_max_distance` (128). */
const DECODER_LENGTH = 130;
/** Steps of the cached (one token at a time) decoder runs. */
const CACHED_STEPS = 20;

const ledger = new ErrorLedger();
afterAll(() => console.info(`ONNX files vs T5 reference (limit ${MAX_ABS_ERROR}):\n${ledger.summary()}`));

function int64Batch(rows: readonly (readonly number[])[], width: number): ort.Tensor {
  const data = new BigInt64Array(rows.length * width);
  rows.forEach((row, r) => row.forEach((value, i) => (data[r * width + i] = BigInt(value))));
  return new ort.Tensor('int64', data, [rows.length, width]);
}

describe.each([...modelVariants, paddedVariant])('ONNX files of $name', ({ name, dir }) => {
  let reference: T5Reference;
  const sessions: Record<string, ort.InferenceSession> = {};
  let encoderInputs: number[][];
  let decoderIds: number[];
  /** The reference's logits for every position of `decoderIds`, per encoder input. */
  let expectedLogits: Float64Array[][];
  let paddedLength: number;
  let batchIds: ort.Tensor;
  let batchMask: ort.Tensor;

  beforeAll(async () => {
    reference = T5Reference.load(dir);
    for (const file of ['encoder_model', 'decoder_model', 'decoder_with_past_model', 'decoder_model_merged']) {
      sessions[file] = await ort.InferenceSession.create(`${dir}/onnx/${file}.onnx`);
    }
    const { vocabSize, eosTokenId, decoderStartTokenId } = reference.config;
    encoderInputs = ENCODER_LENGTHS.map((length, seed) => inputIds(length, seed, vocabSize, eosTokenId));
    // Teacher-forced decoder history: the start token, then arbitrary ids.
    decoderIds = [decoderStartTokenId, ...inputIds(DECODER_LENGTH, 99, vocabSize, eosTokenId).slice(0, -1)];
    expectedLogits = encoderInputs.map((ids) => reference.decoderLogits(reference.encode(ids), undefined, decoderIds));
    paddedLength = Math.max(...ENCODER_LENGTHS);
    // Padding with id 0 and mask 0, as a tokenizer pads a batch.
    batchIds = int64Batch(encoderInputs, paddedLength);
    batchMask = int64Batch(encoderInputs.map((ids) => ids.map(() => 1)), paddedLength);
  });

  afterAll(async () => {
    for (const session of Object.values(sessions)) await session.release();
  });

  async function encodeBatch(): Promise<ort.Tensor> {
    const out = await sessions['encoder_model']!.run({ input_ids: batchIds, attention_mask: batchMask });
    return out['last_hidden_state']!;
  }

  /** Compares row `position` of every batch entry of a `[B, T, V]` logits tensor with the reference. */
  function expectLogitsRows(label: string, logits: ort.Tensor, positions: readonly number[]): void {
    const vocabSize = reference.config.vocabSize;
    expect(logits.dims).toEqual([encoderInputs.length, positions.length, vocabSize]);
    const data = logits.data as Float32Array;
    encoderInputs.forEach((_, b) => {
      positions.forEach((position, t) => {
        const offset = (b * positions.length + t) * vocabSize;
        const error = maxAbsDifference(data.subarray(offset, offset + vocabSize), expectedLogits[b]![position]!);
        ledger.record(`${name} ${label}`, error);
        expect(error, `${label}, input ${b}, position ${position}`).toBeLessThanOrEqual(MAX_ABS_ERROR);
      });
    });
  }

  it(`encoder_model.onnx: last_hidden_state of every unpadded position of a padded batch equals the reference within ${MAX_ABS_ERROR}`, async () => {
    const hidden = await encodeBatch();
    const dModel = reference.config.dModel;
    expect(hidden.dims).toEqual([encoderInputs.length, paddedLength, dModel]);
    const data = hidden.data as Float32Array;
    encoderInputs.forEach((ids, b) => {
      const offset = b * paddedLength * dModel;
      const error = maxAbsDifference(data.subarray(offset, offset + ids.length * dModel), reference.encode(ids).data);
      ledger.record(`${name} encoder`, error);
      expect(error, `input ${b} (length ${ids.length})`).toBeLessThanOrEqual(MAX_ABS_ERROR);
    });
  });

  it(`decoder_model.onnx: logits at all ${DECODER_LENGTH} positions equal the reference within ${MAX_ABS_ERROR}`, async () => {
    const out = await sessions['decoder_model']!.run({
      input_ids: int64Batch(encoderInputs.map(() => decoderIds), decoderIds.length),
      encoder_hidden_states: await encodeBatch(),
      encoder_attention_mask: batchMask,
    });
    expectLogitsRows('decoder (full sequence)', out['logits']!, decoderIds.map((_, position) => position));
  });

  it(`decoder_model_merged.onnx, use_cache_branch=false with empty past: logits at all ${DECODER_LENGTH} positions equal the reference within ${MAX_ABS_ERROR}`, async () => {
    const merged = sessions['decoder_model_merged']!;
    const out = await merged.run({
      input_ids: int64Batch(encoderInputs.map(() => decoderIds), decoderIds.length),
      encoder_hidden_states: await encodeBatch(),
      encoder_attention_mask: batchMask,
      ...emptyPast(merged, encoderInputs.length),
      use_cache_branch: new ort.Tensor('bool', [false], [1]),
    });
    expectLogitsRows('merged decoder (no cache)', out['logits']!, decoderIds.map((_, position) => position));
  });

  it(`decoder_model.onnx then decoder_with_past_model.onnx, one token per step: ${CACHED_STEPS} steps equal the reference within ${MAX_ABS_ERROR}`, async () => {
    await decodeWithCache('split decoders (cached)', sessions['decoder_model']!, sessions['decoder_with_past_model']!, false);
  });

  it(`decoder_model_merged.onnx, one token per step (use_cache_branch true after step 1): ${CACHED_STEPS} steps equal the reference within ${MAX_ABS_ERROR}`, async () => {
    const merged = sessions['decoder_model_merged']!;
    await decodeWithCache('merged decoder (cached)', merged, merged, true);
  });

  /**
   * Feeds `decoderIds` one token at a time the way transformers.js does (onnx-layout.md §5): step 1
   * without cache, then the last token plus the previous step's self-attention presents and step 1's
   * cross-attention presents.
   */
  async function decodeWithCache(label: string, first: ort.InferenceSession, cached: ort.InferenceSession, isMerged: boolean): Promise<void> {
    const encoderHidden = await encodeBatch();
    const batch = encoderInputs.length;
    const layers = reference.config.numDecoderLayers;
    const past: Record<string, ort.Tensor> = {};
    for (let step = 0; step < CACHED_STEPS; step++) {
      const session = step === 0 ? first : cached;
      const feeds: Record<string, ort.Tensor> = {
        input_ids: int64Batch(encoderInputs.map(() => [decoderIds[step]!]), 1),
        encoder_hidden_states: encoderHidden,
        encoder_attention_mask: batchMask,
      };
      if (step > 0) Object.assign(feeds, past);
      if (isMerged) {
        if (step === 0) Object.assign(feeds, emptyPast(session, batch));
        feeds['use_cache_branch'] = new ort.Tensor('bool', [step > 0], [1]);
      }
      const out = await session.run(feeds);
      expectLogitsRows(label, out['logits']!, [step]);
      for (let layer = 0; layer < layers; layer++) {
        for (const kind of ['key', 'value']) {
          past[`past_key_values.${layer}.decoder.${kind}`] = out[`present.${layer}.decoder.${kind}`]!;
          // Cross-attention keys and values come from step 1 only; later steps output placeholders.
          if (step === 0) past[`past_key_values.${layer}.encoder.${kind}`] = out[`present.${layer}.encoder.${kind}`]!;
        }
      }
    }
  }
});

/** Zero-length past tensors `[B, H, 0, d_kv]` for every past input, as transformers.js feeds on step 1. */
function emptyPast(session: ort.InferenceSession, batch: number): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  session.inputMetadata.forEach((meta) => {
    if (!meta.name.startsWith('past_key_values.') || !meta.isTensor) return;
    const [, heads, , dKv] = meta.shape;
    feeds[meta.name] = new ort.Tensor('float32', new Float32Array(0), [batch, Number(heads), 0, Number(dKv)]);
  });
  return feeds;
}

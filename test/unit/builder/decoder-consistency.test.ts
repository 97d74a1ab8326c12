import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tinyModelVariants } from '../../fixtures/models.js';
import {
  argmax,
  data,
  emptyPast,
  int64Tensor,
  maxAbsDifference,
  openSessions,
  padBatch,
  presentsAsPast,
  readConfig,
  releaseSessions,
  useCache,
  type FolderConfig,
  type ModelSessions,
} from './onnx-test-helpers.js';

const tolerance = 1e-5;
// Two encoder inputs of different lengths, so the second row is padded and masked.
const encoderRows = [
  [37, 120, 8, 301, 44, 9, 1],
  [52, 7, 1],
];
// Decoder tokens after the start token, per row (forced, so every variant decodes the same length).
const forcedTokens = [
  [11, 250, 3, 77, 1, 90],
  [400, 400, 5, 18, 260, 2],
];

function expectClose(actual: ort.OnnxValue, expected: ort.OnnxValue, what: string): void {
  expect((actual as ort.Tensor).dims, what).toEqual((expected as ort.Tensor).dims);
  expect(maxAbsDifference(data(actual), data(expected)), what).toBeLessThanOrEqual(tolerance);
}

/** Logits `[B, T, V]` → the rows of position `t` for every batch row, concatenated. */
function logitsAt(logits: ort.OnnxValue, t: number): Float32Array {
  const [batch, length, vocab] = (logits as ort.Tensor).dims as [number, number, number];
  const out = new Float32Array(batch * vocab);
  for (let b = 0; b < batch; b++) out.set(data(logits).subarray((b * length + t) * vocab, (b * length + t + 1) * vocab), b * vocab);
  return out;
}

for (const variant of tinyModelVariants) {
  describe(`decoders of the tiny model (${variant.label})`, () => {
    let sessions: ModelSessions;
    let config: FolderConfig;
    let encoderFeeds: Record<string, ort.Tensor>;

    beforeAll(async () => {
      sessions = await openSessions(variant.dir);
      config = readConfig(variant.dir);
      const { inputIds, attentionMask } = padBatch(encoderRows);
      const encoded = await sessions.encoder.run({ input_ids: inputIds, attention_mask: attentionMask });
      encoderFeeds = { encoder_attention_mask: attentionMask, encoder_hidden_states: encoded.last_hidden_state as ort.Tensor };
    });
    afterAll(() => releaseSessions(sessions));

    const column = (t: number) => int64Tensor(forcedTokens.map((row) => [t === 0 ? 0 : row[t - 1]!]));
    const prefix = (length: number) => int64Tensor(forcedTokens.map((row) => [0, ...row].slice(0, length)));

    it('merged model without cache gives decoder_model.onnx\'s logits and presents, for one token and for several', async () => {
      for (const length of [1, 4]) {
        const plain = await sessions.decoder.run({ ...encoderFeeds, input_ids: prefix(length) });
        const merged = await sessions.merged.run({ ...encoderFeeds, ...emptyPast(config, 2), input_ids: prefix(length), use_cache_branch: useCache(false) });
        expect(Object.keys(merged)).toEqual(Object.keys(plain));
        for (const name of Object.keys(plain)) expectClose(merged[name]!, plain[name]!, `${name} (length ${length})`);
      }
    });

    it('merged model with cache gives decoder_with_past_model.onnx\'s logits and presents, and empty cross-attention presents', async () => {
      const first = await sessions.decoder.run({ ...encoderFeeds, input_ids: column(0) });
      const feeds = { ...encoderFeeds, ...presentsAsPast(first), input_ids: column(1) };
      const withPast = await sessions.decoderWithPast.run(feeds);
      const merged = await sessions.merged.run({ ...feeds, use_cache_branch: useCache(true) });
      for (const name of Object.keys(withPast)) expectClose(merged[name]!, withPast[name]!, name);
      for (let l = 0; l < config.num_decoder_layers; l++) {
        for (const part of ['key', 'value']) {
          expect((merged[`present.${l}.encoder.${part}`] as ort.Tensor).dims).toEqual([0, config.num_heads, 1, config.d_kv]);
        }
      }
    });

    it('stepping with the cache gives, position by position, what decoder_model.onnx computes over the whole sequence', async () => {
      const steps = forcedTokens[0]!.length + 1;
      const full = await sessions.decoder.run({ ...encoderFeeds, input_ids: prefix(steps) });
      for (const cached of ['decoder_with_past_model', 'decoder_model_merged']) {
        let outputs = await sessions.decoder.run({ ...encoderFeeds, input_ids: column(0) });
        const crossPast = presentsAsPast(outputs, (name) => name.includes('.encoder.'));
        expect(maxAbsDifference(logitsAt(outputs.logits!, 0), logitsAt(full.logits!, 0))).toBeLessThanOrEqual(tolerance);
        for (let t = 1; t < steps; t++) {
          const feeds = { ...encoderFeeds, ...crossPast, ...presentsAsPast(outputs, (name) => name.includes('.decoder.')), input_ids: column(t) };
          outputs = cached === 'decoder_model_merged'
            ? await sessions.merged.run({ ...feeds, use_cache_branch: useCache(true) })
            : await sessions.decoderWithPast.run(feeds);
          expect(maxAbsDifference(logitsAt(outputs.logits!, 0), logitsAt(full.logits!, t)), `${cached}, position ${t}`).toBeLessThanOrEqual(tolerance);
        }
        for (let l = 0; l < config.num_decoder_layers; l++) {
          expectClose(outputs[`present.${l}.decoder.key`]!, full[`present.${l}.decoder.key`]!, `${cached} present.${l}.decoder.key`);
          expectClose(outputs[`present.${l}.decoder.value`]!, full[`present.${l}.decoder.value`]!, `${cached} present.${l}.decoder.value`);
        }
      }
    });

    it('merged model with cache also takes several new tokens at once, matching decoder_model.onnx at those positions', async () => {
      const steps = forcedTokens[0]!.length + 1;
      const full = await sessions.decoder.run({ ...encoderFeeds, input_ids: prefix(steps) });
      const first = await sessions.decoder.run({ ...encoderFeeds, input_ids: prefix(2) });
      const rest = int64Tensor(forcedTokens.map((row) => row.slice(1)));
      const merged = await sessions.merged.run({ ...encoderFeeds, ...presentsAsPast(first), input_ids: rest, use_cache_branch: useCache(true) });
      for (let t = 2; t < steps; t++) {
        expect(maxAbsDifference(logitsAt(merged.logits!, t - 2), logitsAt(full.logits!, t)), `position ${t}`).toBeLessThanOrEqual(tolerance);
      }
      expectClose(merged['present.1.decoder.value']!, full['present.1.decoder.value']!, 'present.1.decoder.value');
    });

    it('a padded, masked input row gives the same encoder states and logits as that row run alone', async () => {
      const short = encoderRows[1]!;
      const alone = padBatch([short]);
      const aloneStates = (await sessions.encoder.run({ input_ids: alone.inputIds, attention_mask: alone.attentionMask })).last_hidden_state!;
      const batchedStates = data(encoderFeeds.encoder_hidden_states!);
      const width = encoderRows[0]!.length * config.d_model;
      const validPart = batchedStates.subarray(width, width + short.length * config.d_model);
      expect(maxAbsDifference(validPart, data(aloneStates))).toBeLessThanOrEqual(tolerance);

      const tokens = [[0, ...forcedTokens[1]!]];
      const aloneLogits = (await sessions.decoder.run({ encoder_attention_mask: alone.attentionMask, encoder_hidden_states: aloneStates as ort.Tensor, input_ids: int64Tensor(tokens) })).logits!;
      const batchedLogits = (await sessions.decoder.run({ ...encoderFeeds, input_ids: prefix(tokens[0]!.length) })).logits!;
      const rowSize = tokens[0]!.length * config.vocab_size;
      expect(maxAbsDifference(data(batchedLogits).subarray(rowSize, 2 * rowSize), data(aloneLogits))).toBeLessThanOrEqual(tolerance);
    });

    it('decodes greedily to varied tokens: no EOS first, at least 8 distinct tokens in 20 steps', async () => {
      const tokenizer = new Tokenizer(
        JSON.parse(readFileSync(join(variant.dir, 'tokenizer.json'), 'utf8')),
        JSON.parse(readFileSync(join(variant.dir, 'tokenizer_config.json'), 'utf8')),
      );
      const { inputIds, attentionMask } = padBatch([tokenizer.encode('translate English to German: The house is wonderful.').ids]);
      const states = (await sessions.encoder.run({ input_ids: inputIds, attention_mask: attentionMask })).last_hidden_state as ort.Tensor;
      const generated: number[] = [];
      let past: Record<string, ort.Tensor> = emptyPast(config, 1);
      for (let step = 0; step < 20; step++) {
        const last = step === 0 ? 0 : generated[step - 1]!;
        const outputs = await sessions.merged.run({
          encoder_attention_mask: attentionMask, encoder_hidden_states: states, ...past, input_ids: int64Tensor([[last]]), use_cache_branch: useCache(step > 0),
        });
        generated.push(argmax(data(outputs.logits!)));
        past = { ...past, ...presentsAsPast(outputs, (name) => step === 0 || name.includes('.decoder.')) };
      }
      expect(generated[0]).not.toBe(1);
      expect(new Set(generated).size).toBeGreaterThanOrEqual(8);
    });
  });
}

/**
 * The floor every contender is measured against: the least code that decodes with the model folder's
 * ONNX files in this process. The encoder runs once over the (static) batch; the merged decoder runs
 * once per token with its KV cache, its presents fed straight back as the next pasts; the next token
 * is the argmax of each row with EOS excluded, so every sequence runs to full length (as the other
 * contenders do with `min_new_tokens`).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { InferenceSession, Tensor } from 'onnxruntime-node';

export interface FloorRun {
  /** Generated ids per sequence (without the decoder start token). */
  readonly tokens: number[][];
  /** Wall time of the whole generation (encoder and every decoder run), in milliseconds. */
  readonly ms: number;
}

export class FloorLoop {
  private constructor(
    private readonly encoder: InferenceSession,
    private readonly decoder: InferenceSession,
    private readonly config: { numHeads: number; dKv: number; vocabSize: number; eos: number; decoderStart: number; pad: number },
  ) {}

  static async open(dir: string, options: InferenceSession.SessionOptions): Promise<FloorLoop> {
    const json = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, number>;
    const encoder = await InferenceSession.create(join(dir, 'onnx', 'encoder_model.onnx'), options);
    const decoder = await InferenceSession.create(join(dir, 'onnx', 'decoder_model_merged.onnx'), options);
    return new FloorLoop(encoder, decoder, {
      numHeads: json.num_heads!,
      dKv: json.d_kv!,
      vocabSize: json.vocab_size!,
      eos: json.eos_token_id!,
      decoderStart: json.decoder_start_token_id!,
      pad: json.pad_token_id!,
    });
  }

  /** Generates `newTokens` tokens for every prompt, as one static batch. */
  async generate(prompts: readonly (readonly number[])[], newTokens: number): Promise<FloorRun> {
    const { numHeads, dKv, vocabSize, eos, decoderStart, pad } = this.config;
    const batch = prompts.length;
    const length = Math.max(...prompts.map((ids) => ids.length));
    const inputIds = new BigInt64Array(batch * length).fill(BigInt(pad));
    const mask = new BigInt64Array(batch * length);
    prompts.forEach((ids, row) =>
      ids.forEach((id, i) => {
        inputIds[row * length + i] = BigInt(id);
        mask[row * length + i] = 1n;
      }),
    );
    const started = performance.now();
    const attentionMask = new Tensor('int64', mask, [batch, length]);
    const encoded = await this.encoder.run({ input_ids: new Tensor('int64', inputIds, [batch, length]), attention_mask: attentionMask });
    const feeds: Record<string, Tensor> = {
      input_ids: new Tensor('int64', new BigInt64Array(batch).fill(BigInt(decoderStart)), [batch, 1]),
      encoder_hidden_states: encoded.last_hidden_state as Tensor,
      encoder_attention_mask: attentionMask,
      use_cache_branch: new Tensor('bool', new Uint8Array([0]), [1]),
    };
    const pasts = this.decoder.inputNames.filter((name) => name.startsWith('past_key_values.'));
    const emptyPast = new Tensor('float32', new Float32Array(0), [batch, numHeads, 0, dKv]);
    for (const name of pasts) feeds[name] = emptyPast;
    // After the first run only the logits and the self-attention presents are fetched: the cache branch's
    // encoder presents are empty, and the first run's cross-attention K/V stay in the feeds.
    const selfPresents = this.decoder.outputNames.filter((name) => name.startsWith('present.') && name.includes('.decoder.'));
    const cachedFetches = ['logits', ...selfPresents];
    const tokens: number[][] = prompts.map(() => []);
    for (let step = 0; step < newTokens; step++) {
      const outputs = await this.decoder.run(feeds, step === 0 ? this.decoder.outputNames : cachedFetches);
      const logits = outputs.logits!.data as Float32Array;
      const next = new BigInt64Array(batch);
      for (let row = 0; row < batch; row++) {
        const token = argmaxExcept(logits, row * vocabSize, vocabSize, eos);
        tokens[row]!.push(token);
        next[row] = BigInt(token);
      }
      feeds.input_ids = new Tensor('int64', next, [batch, 1]);
      for (const name of pasts) {
        const present = outputs[name.replace('past_key_values.', 'present.')];
        if (present !== undefined) feeds[name] = present as Tensor;
      }
      feeds.use_cache_branch = new Tensor('bool', new Uint8Array([1]), [1]);
    }
    return { tokens, ms: performance.now() - started };
  }

  async release(): Promise<void> {
    await Promise.all([this.encoder.release(), this.decoder.release()]);
  }
}

/** The index (from `offset`) of the largest of `width` values from `offset`, skipping `excluded`. */
export function argmaxExcept(values: Float32Array, offset: number, width: number, excluded: number): number {
  let best = excluded === 0 ? 1 : 0;
  for (let i = best + 1; i < width; i++) {
    if (i !== excluded && values[offset + i]! > values[offset + best]!) best = i;
  }
  return best;
}

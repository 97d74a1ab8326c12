/**
 * transformers.js `generate()` (greedy) on the same model folder yields exactly the tokens of the T5
 * reference's greedy decode and of the Stepwise runtime's greedy loop. transformers.js reads only
 * `config.json`, `generation_config.json`, `onnx/encoder_model.onnx` and
 * `onnx/decoder_model_merged.onnx`, so this holds the folder to what the wider ecosystem expects.
 */
import { basename, dirname } from 'node:path';
import { AutoModelForSeq2SeqLM, env, Tensor, type PreTrainedModel } from '@huggingface/transformers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type ModelRuntime } from '../../../src/runtime/index.js';
import { argmax } from '../../reference/reference-math.js';
import { T5Reference } from '../../reference/t5-reference.js';
import { inputIds, throughFirstEos } from './agreement.js';
import { modelVariants, paddedVariant } from './model-variants.js';

const INPUT_LENGTHS = [1, 4, 12, 30];
const MAX_NEW_TOKENS = 12;

// Nothing comes from a model hub: every folder is local.
env.allowRemoteModels = false;

describe.each([...modelVariants, paddedVariant])('transformers.js generate() on $name', ({ dir }) => {
  let reference: T5Reference;
  let model: PreTrainedModel;
  let runtime: ModelRuntime;

  beforeAll(async () => {
    reference = T5Reference.load(dir);
    env.localModelPath = dirname(dir);
    model = await AutoModelForSeq2SeqLM.from_pretrained(basename(dir), { dtype: 'fp32' });
    runtime = await loadModel(dir);
  });

  afterAll(async () => {
    await model?.dispose();
    await runtime?.dispose();
  });

  /** The Stepwise runtime's greedy loop; like transformers.js, it starts with the decoder start token. */
  async function runtimeGreedy(ids: readonly number[]): Promise<number[]> {
    const [encoded] = await runtime.encode([ids]);
    const state = runtime.createState(encoded!);
    for (let step = 0; step < MAX_NEW_TOKENS; step++) {
      const [logits] = await runtime.step([state]);
      state.append(argmax(logits!));
      if (state.tokens.at(-1) === runtime.info.specialIds.eos) break;
    }
    const tokens = [...state.tokens];
    state.dispose();
    return tokens;
  }

  async function transformersJsGreedy(ids: readonly number[]): Promise<number[]> {
    const input = new Tensor('int64', BigInt64Array.from(ids, (id) => BigInt(id)), [1, ids.length]);
    // transformers.js does not make up a missing encoder attention_mask (onnx-layout.md §2).
    const mask = new Tensor('int64', new BigInt64Array(ids.length).fill(1n), [1, ids.length]);
    const output = (await model.generate({ input_ids: input, attention_mask: mask, max_new_tokens: MAX_NEW_TOKENS })) as Tensor;
    return Array.from(output.data as BigInt64Array, Number);
  }

  it.each(INPUT_LENGTHS)(
    `greedy tokens for an input of %i ids equal the runtime's and the reference's (through the first EOS, at most ${MAX_NEW_TOKENS})`,
    async (length) => {
      const { eosTokenId, decoderStartTokenId } = reference.config;
      const ids = inputIds(length, length, runtime.tokenizer.size, eosTokenId);
      const generated = await transformersJsGreedy(ids);
      // transformers.js returns the decoder start token first and stops after EOS.
      expect(generated[0]).toBe(decoderStartTokenId);
      expect(generated.length).toBeGreaterThan(1);
      expect(generated).toEqual(await runtimeGreedy(ids));
      expect(generated.slice(1)).toEqual(throughFirstEos(reference.greedy(ids, MAX_NEW_TOKENS), eosTokenId));
    },
  );
});

import { basename, dirname, join } from 'node:path';
import { readFileSync } from 'node:fs';
import { AutoModelForSeq2SeqLM, AutoTokenizer, env, type PreTrainedModel, type PreTrainedTokenizer, type Tensor } from '@huggingface/transformers';
import { Tokenizer } from '@huggingface/tokenizers';
import { beforeAll, describe, expect, it } from 'vitest';
import { tinyModels, tinyModelVariants } from '../../fixtures/models.js';

// transformers.js reads local folders only: nothing is fetched from a hub.
env.allowRemoteModels = false;
env.localModelPath = dirname(tinyModels.reluTied);

const prompt = 'translate English to German: The house is wonderful.';

describe('transformers.js 4.3 loads the built folders as T5 models', () => {
  for (const variant of [...tinyModelVariants, { label: 'padded vocabulary', dir: tinyModels.padded }]) {
    it(`generates 10 greedy tokens with AutoModelForSeq2SeqLM (${variant.label})`, async () => {
      const name = basename(variant.dir);
      const tokenizer = await AutoTokenizer.from_pretrained(name);
      const model: PreTrainedModel = await AutoModelForSeq2SeqLM.from_pretrained(name, { dtype: 'fp32' });
      try {
        const inputs = tokenizer(prompt);
        const output = (await model.generate({ ...inputs, max_new_tokens: 10 })) as Tensor;
        const vocabSize = (JSON.parse(readFileSync(join(variant.dir, 'config.json'), 'utf8')) as { vocab_size: number }).vocab_size;
        expect(output.dims).toEqual([1, 11]);
        const ids = (output.tolist() as bigint[][])[0]!.map(Number);
        expect(ids[0]).toBe(0); // decoder_start_token_id
        for (const id of ids) expect(id >= 0 && id < vocabSize).toBe(true);
      } finally {
        await model.dispose();
      }
    });
  }
});

describe('transformers.js AutoTokenizer and @huggingface/tokenizers agree on the built tokenizer', () => {
  let transformersTokenizer: PreTrainedTokenizer;
  let tokenizer: Tokenizer;
  beforeAll(async () => {
    transformersTokenizer = await AutoTokenizer.from_pretrained(basename(tinyModels.reluTied));
    tokenizer = new Tokenizer(
      JSON.parse(readFileSync(join(tinyModels.reluTied, 'tokenizer.json'), 'utf8')),
      JSON.parse(readFileSync(join(tinyModels.reluTied, 'tokenizer_config.json'), 'utf8')),
    );
  });

  it('encodes to the same ids, ending with </s>', () => {
    for (const text of [prompt, 'summarize: the cold rain will stay until tomorrow.', 'Hello, world! 42 is a number.']) {
      const ids = transformersTokenizer.encode(text);
      expect(ids).toEqual(tokenizer.encode(text).ids);
      expect(ids.at(-1)).toBe(1);
    }
  });

  it('decodes back to the same text', () => {
    const ids = tokenizer.encode(prompt).ids;
    expect(transformersTokenizer.decode(ids, { skip_special_tokens: true })).toBe(tokenizer.decode(ids, { skip_special_tokens: true }));
    expect(transformersTokenizer.decode(ids, { skip_special_tokens: true })).toBe(prompt);
  });

  it('reads the special tokens and maximum length from tokenizer_config.json', () => {
    expect(transformersTokenizer.pad_token_id).toBe(0);
    expect(transformersTokenizer.eos_token_id).toBe(1);
    expect(transformersTokenizer.model_max_length).toBe(512);
  });
});

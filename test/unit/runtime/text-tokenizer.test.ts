/** The folder's tokenizer: T5's special ids, `</s>` appended, text round-trips. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadModel, type ModelRuntime } from '../../../src/runtime/index.js';
import { tinyModels } from './runtime-test-kit.js';

describe('the model tokenizer', () => {
  let model: ModelRuntime;

  beforeAll(async () => {
    model = await loadModel(tinyModels.reluTied);
  });
  afterAll(async () => {
    await model.dispose();
  });

  it("has T5's special ids: <pad> 0, </s> 1, <unk> 2", () => {
    expect(model.tokenizer.tokenString(0)).toBe('<pad>');
    expect(model.tokenizer.tokenString(1)).toBe('</s>');
    expect(model.tokenizer.tokenString(2)).toBe('<unk>');
    expect(model.info.specialIds.unk).toBe(2);
  });

  it('encode ends with </s> (id 1), as the T5 post-processor does', () => {
    const ids = model.tokenizer.encode('translate English to German: The house is wonderful.');
    expect(ids.length).toBeGreaterThan(2);
    expect(ids.at(-1)).toBe(1);
    expect(ids.slice(0, -1)).not.toContain(1);
    expect(model.tokenizer.encode('')).toEqual([1]);
  });

  it.each(['The house is wonderful.', 'summarize: the cat sat on the mat', 'a b c 1 2 3'])(
    'decode(encode(%j)) gives the text back',
    (text) => {
      expect(model.tokenizer.decode(model.tokenizer.encode(text))).toBe(text);
    },
  );

  it('decode skips special tokens unless asked to keep them', () => {
    const ids = [0, ...model.tokenizer.encode('hello')];
    expect(model.tokenizer.decode(ids)).toBe('hello');
    expect(model.tokenizer.decode(ids, { skipSpecialTokens: false })).toBe('<pad> hello</s>');
  });

  it('tokenString is undefined outside the tokenizer, including the padded logits rows', async () => {
    expect(model.tokenizer.tokenString(-1)).toBeUndefined();
    expect(model.tokenizer.tokenString(model.tokenizer.size)).toBeUndefined();
    expect(model.tokenizer.tokenString(1.5)).toBeUndefined();
    const padded = await loadModel(tinyModels.padded);
    expect(padded.tokenizer.tokenString(padded.info.vocabSize - 1)).toBeUndefined();
    await padded.dispose();
  });
});

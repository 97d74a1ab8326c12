import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildModel } from '../../../src/builder/build-model.js';
import { resolveModelSpec } from '../../../src/builder/model-spec.js';
import { builtInExtraIds, builtInTokenizer, tokenizerSize } from '../../../src/builder/t5-tokenizer.js';
import { tinyModels } from '../../fixtures/models.js';

const scratch = mkdtempSync(join(tmpdir(), 'stepwise-tokenizer-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function loadTokenizer(dir: string): Tokenizer {
  return new Tokenizer(
    JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')),
    JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')),
  );
}

const texts = [
  'translate English to German: The house is wonderful.',
  'summarize: The weather today is cold, and the rain will stay until tomorrow morning.',
  'Numbers 0123456789 and punctuation (a) [b] {c} "quoted" it\'s 50% & more!',
  'Rare words like xylophone or Quetzalcoatl split into known pieces.',
];

describe('the built-in T5-style tokenizer (as @huggingface/tokenizers loads it)', () => {
  let tokenizer: Tokenizer;
  beforeAll(() => {
    tokenizer = loadTokenizer(tinyModels.reluTied);
  });

  it('has T5\'s special ids: <pad>=0, </s>=1, <unk>=2', () => {
    expect(tokenizer.token_to_id('<pad>')).toBe(0);
    expect(tokenizer.token_to_id('</s>')).toBe(1);
    expect(tokenizer.token_to_id('<unk>')).toBe(2);
  });

  it('puts the <extra_id_N> sentinels at the top of the id range, <extra_id_0> last, like T5', () => {
    const size = builtInTokenizer().size;
    for (let n = 0; n < builtInExtraIds; n++) expect(tokenizer.token_to_id(`<extra_id_${n}>`)).toBe(size - 1 - n);
  });

  it('appends </s> (id 1) to every encoding and nothing at the start', () => {
    for (const text of texts) {
      const { ids } = tokenizer.encode(text);
      expect(ids.at(-1)).toBe(1);
      expect(ids.slice(0, -1)).not.toContain(1);
    }
  });

  it('encodes the prompt words as whole pieces with the word-start mark', () => {
    expect(tokenizer.encode('translate English to German: The house is wonderful.').tokens).toEqual([
      '▁translate', '▁English', '▁to', '▁German', ':', '▁The', '▁house', '▁is', '▁wonderful', '.', '</s>',
    ]);
  });

  it('round-trips text made of known characters, and maps unknown characters to <unk>', () => {
    for (const text of texts) expect(tokenizer.decode(tokenizer.encode(text).ids, { skip_special_tokens: true })).toBe(text);
    expect(tokenizer.encode('a ☃ b').ids).toContain(2);
  });

  it('never produces an id outside [0, size)', () => {
    const size = builtInTokenizer().size;
    for (const text of texts) for (const id of tokenizer.encode(text).ids) expect(id >= 0 && id < size).toBe(true);
  });

  it('matches the model config: vocab_size equals the tokenizer size for the unpadded fixture', () => {
    const config = JSON.parse(readFileSync(join(tinyModels.reluTied, 'config.json'), 'utf8')) as { vocab_size: number };
    expect(config.vocab_size).toBe(builtInTokenizer().size);
    expect(tokenizerSize(readFileSync(join(tinyModels.reluTied, 'tokenizer.json'), 'utf8'))).toBe(config.vocab_size);
  });

  it('declares T5\'s tokenizer_config fields', () => {
    const config = JSON.parse(readFileSync(join(tinyModels.reluTied, 'tokenizer_config.json'), 'utf8'));
    expect(config).toMatchObject({ model_max_length: 512, pad_token: '<pad>', eos_token: '</s>', unk_token: '<unk>', tokenizer_class: 'T5Tokenizer' });
  });
});

describe('building with a given tokenizer file', () => {
  const source = join(scratch, 'given');
  beforeAll(() => {
    mkdirSync(source);
    for (const [name, contents] of builtInTokenizer().files) writeFileSync(join(source, name), contents);
  });

  it('copies tokenizer.json and its config files unchanged and pads vocab_size to the requested multiple', async () => {
    const out = join(scratch, 'with-given');
    const spec = await buildModel({ preset: 'tiny', tokenizerPath: join(source, 'tokenizer.json'), padVocabToMultiple: 128, out });
    const size = builtInTokenizer().size;
    expect(spec.vocabSize).toBe(Math.ceil(size / 128) * 128);
    expect(spec.vocabSize).toBeGreaterThan(size);
    for (const name of ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json']) {
      expect(readFileSync(join(out, name)).equals(readFileSync(join(source, name))), name).toBe(true);
    }
    expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).vocab_size).toBe(spec.vocabSize);
  });

  it('writes a T5 tokenizer_config.json when the given tokenizer has none beside it', async () => {
    const lonely = join(scratch, 'lonely');
    mkdirSync(lonely);
    writeFileSync(join(lonely, 'tokenizer.json'), readFileSync(join(source, 'tokenizer.json')));
    const out = join(scratch, 'with-lonely');
    await buildModel({ preset: 'tiny', tokenizerPath: join(lonely, 'tokenizer.json'), out });
    expect(JSON.parse(readFileSync(join(out, 'tokenizer_config.json'), 'utf8'))).toMatchObject({ eos_token: '</s>', pad_token: '<pad>' });
  });

  it('sizes a 32100-id T5 tokenizer at 32100, and pads it to 32128 with a multiple of 128 (t5-small)', () => {
    const json = JSON.parse(builtInTokenizer().files.get('tokenizer.json') as string) as { model: { vocab: Array<[string, number]> } };
    while (json.model.vocab.length < 32100) json.model.vocab.push([`▁filler${json.model.vocab.length}`, -20]);
    const size = tokenizerSize(JSON.stringify(json));
    expect(size).toBe(32100);
    expect(resolveModelSpec({ preset: 't5-small', tokenizerPath: 'given', padVocabToMultiple: 128 }, size).vocabSize).toBe(32128);
    expect(resolveModelSpec({ preset: 't5-small', tokenizerPath: 'given' }, size).vocabSize).toBe(32100);
  });

  it('refuses a tokenizer whose id 1 is not </s>, naming the file and what it found', async () => {
    const json = JSON.parse(builtInTokenizer().files.get('tokenizer.json') as string) as { model: { vocab: Array<[string, number]> }; added_tokens: Array<{ id: number; content: string }> };
    json.model.vocab[1] = ['<s>', 0];
    json.added_tokens = json.added_tokens.filter((token) => token.id !== 1);
    const path = join(scratch, 'bad-tokenizer.json');
    writeFileSync(path, JSON.stringify(json));
    await expect(buildModel({ preset: 'tiny', tokenizerPath: path, out: join(scratch, 'bad') })).rejects.toThrow(
      /`tokenizer` .*bad-tokenizer\.json: id 1 must be <\/s> \(T5's special ids\); found "<s>"/,
    );
  });
});

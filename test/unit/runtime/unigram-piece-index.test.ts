import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../../../src/builder/prng.js';
import { characters, commonSuffixes, commonWords } from '../../../src/builder/tokenizer-vocabulary.js';
import { HuggingFaceTextTokenizer } from '../../../src/runtime/text-tokenizer.js';
import { compactUnigramPieces, PieceIndex } from '../../../src/runtime/unigram-piece-index.js';
import { tinyModels } from '../../fixtures/models.js';

interface PrefixSearch {
  common_prefix_search(chars: readonly string[], start?: number): Iterable<string>;
}

function loadBuiltIn(): Tokenizer {
  const dir = tinyModels.reluTied;
  return new Tokenizer(
    JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')),
    JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')),
  );
}

const trieOf = (tokenizer: Tokenizer) => (tokenizer as unknown as { model: { trie: PrefixSearch } }).model.trie;

/** Texts mixing known words, suffixes, single characters, unknown characters (CJK, emoji) and odd spacing. */
function corpus(count: number, seed: number): string[] {
  const random = new SeededRandom(seed);
  const next = () => random.uniform();
  const pick = <T>(items: readonly T[]) => items[Math.floor(next() * items.length)]!;
  const unknown = ['漢', '字', '😀', '🦜', 'ß', 'é', '\u0301', '\t', '  ', '\u2581'];
  const texts: string[] = ['', ' ', 'a', '😀', 'translate English to German: The house is wonderful.'];
  texts.push(commonWords.map((word, i) => word + commonSuffixes[i % commonSuffixes.length]).join(' '));
  for (let i = 0; i < count; i++) {
    const parts: string[] = [];
    const length = 1 + Math.floor(next() * 12);
    for (let j = 0; j < length; j++) {
      const kind = next();
      if (kind < 0.4) parts.push(pick(commonWords));
      else if (kind < 0.6) parts.push(pick(commonWords) + pick(commonSuffixes));
      else if (kind < 0.8) parts.push(pick(characters) + pick(characters) + pick(characters));
      else parts.push(pick(unknown) + pick(characters));
      parts.push(next() < 0.8 ? ' ' : '');
    }
    texts.push(parts.join(''));
  }
  return texts;
}

describe('PieceIndex', () => {
  it('yields every piece spelled from a position, shortest first, counting code points', () => {
    const index = new PieceIndex(['a', 'ab', 'abc', 'b', '😀x', 'x']);
    const chars = Array.from('abc😀x');
    expect([...index.common_prefix_search(chars, 0)]).toEqual(['a', 'ab', 'abc']);
    expect([...index.common_prefix_search(chars)]).toEqual(['a', 'ab', 'abc']);
    expect([...index.common_prefix_search(chars, 1)]).toEqual(['b']);
    expect([...index.common_prefix_search(chars, 2)]).toEqual([]);
    expect([...index.common_prefix_search(chars, 3)]).toEqual(['😀x']);
    expect([...index.common_prefix_search(chars, 4)]).toEqual(['x']);
    expect([...index.common_prefix_search(chars, 5)]).toEqual([]);
  });

  it('finds nothing with no pieces', () => {
    expect([...new PieceIndex([]).common_prefix_search(['a'], 0)]).toEqual([]);
  });
});

describe('compactUnigramPieces on the built-in Unigram tokenizer', () => {
  const original = loadBuiltIn();
  const compacted = loadBuiltIn();
  const replaced = compactUnigramPieces(compacted);
  const vocabulary = (JSON.parse(readFileSync(join(tinyModels.reluTied, 'tokenizer.json'), 'utf8')) as { model: { vocab: [string, number][] } }).model.vocab;
  // Every piece of the vocabulary (the sentinels, its longest, included) is searched where it starts.
  const texts = [...corpus(400, 7), vocabulary.map(([piece]) => piece).join(' ')];

  it('replaces the character trie with a PieceIndex', () => {
    expect(replaced).toBe(true);
    expect(trieOf(compacted)).toBeInstanceOf(PieceIndex);
    expect(trieOf(original)).not.toBeInstanceOf(PieceIndex);
  });

  it('answers every prefix search as the trie does, at every position of every text', () => {
    let searches = 0;
    for (const text of texts) {
      // The model searches the pre-tokenized pieces, which start with the ▁ word marker.
      const chars = Array.from(`\u2581${text.replaceAll(' ', '\u2581')}`);
      for (let start = 0; start <= chars.length; start++) {
        expect([...trieOf(compacted).common_prefix_search(chars, start)], `${JSON.stringify(text)} at ${start}`).toEqual([
          ...trieOf(original).common_prefix_search(chars, start),
        ]);
        searches++;
      }
    }
    expect(searches).toBeGreaterThan(10_000);
  });

  it('encodes every text to the same ids', () => {
    for (const text of texts) expect(compacted.encode(text).ids, JSON.stringify(text)).toEqual(original.encode(text).ids);
  });

  it('is applied by HuggingFaceTextTokenizer.load, with the same ids as the library untouched', async () => {
    const loaded = await HuggingFaceTextTokenizer.load(tinyModels.reluTied);
    const inner = (loaded as unknown as { tokenizer: Tokenizer }).tokenizer;
    expect(trieOf(inner)).toBeInstanceOf(PieceIndex);
    for (const text of texts.slice(0, 50)) expect(loaded.encode(text)).toEqual(original.encode(text).ids);
  });
});

describe('compactUnigramPieces on other tokenizers', () => {
  it('leaves a BPE tokenizer as it is', () => {
    const bpe = new Tokenizer(
      {
        version: '1.0',
        added_tokens: [],
        normalizer: null,
        pre_tokenizer: null,
        post_processor: null,
        decoder: null,
        model: { type: 'BPE', vocab: { a: 0, b: 1, ab: 2 }, merges: ['a b'] },
      },
      {},
    );
    const before = (bpe as unknown as { model: object }).model;
    expect(compactUnigramPieces(bpe)).toBe(false);
    expect((bpe as unknown as { model: object }).model).toBe(before);
    expect(bpe.encode('abab').ids).toEqual([2, 2]);
  });

  it('leaves a Unigram model whose vocabulary is not [piece, score] entries as it is', () => {
    const tokenizer = loadBuiltIn();
    const model = (tokenizer as unknown as { model: { config: { vocab: unknown }; trie: PrefixSearch } }).model;
    const trie = model.trie;
    model.config = { vocab: [[1, 0]] };
    expect(compactUnigramPieces(tokenizer)).toBe(false);
    expect(model.trie).toBe(trie);
  });
});

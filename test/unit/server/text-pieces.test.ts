/** Token pieces (`TokenChosen.text`) and stop conditions, over the tiny model's T5-style tokenizer. */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { HuggingFaceTextTokenizer } from '../../../src/runtime/text-tokenizer.js';
import { IncrementalDetokenizer } from '../../../src/server/incremental-detokenizer.js';
import { StopConditions } from '../../../src/server/stop-conditions.js';
import { tinyModels } from '../../fixtures/models.js';

let tokenizer: HuggingFaceTextTokenizer;
beforeAll(async () => {
  tokenizer = await HuggingFaceTextTokenizer.load(tinyModels.reluTied);
});

const decode = (ids: readonly number[]): string =>
  ids.length === 0 ? '' : tokenizer.decode(ids, { skipSpecialTokens: true });

describe('incremental detokenizer', () => {
  it('pieces concatenate to the decoded text after every token, word spaces included', () => {
    const ids = tokenizer.encode('the small green house sat on the mat');
    const pieces = new IncrementalDetokenizer(tokenizer);
    const emitted: string[] = [];
    ids.forEach((id, i) => {
      emitted.push(pieces.push(id));
      expect(pieces.text).toBe(decode(ids.slice(0, i + 1)));
    });
    expect(emitted.join('')).toBe('the small green house sat on the mat');
    expect(emitted[1]).toBe(' small');
  });

  it('holds for any sequence of word, special and padding ids', () => {
    // Punctuation is left out: the tokenizer's clean-up of tokenization spaces (" ' " → "'") rewrites
    // text around it that earlier pieces already carried (see the next test).
    const plain = Array.from({ length: tokenizer.size + 5 }, (_, id) => id).filter(
      (id) => id >= tokenizer.size || /^(▁?[\p{L}\p{N}]*|<[a-z_/0-9]+>)$/u.test(tokenizer.tokenString(id)!),
    );
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...plain), { maxLength: 30 }), (ids) => {
        const pieces = new IncrementalDetokenizer(tokenizer);
        for (const id of ids) pieces.push(id);
        expect(pieces.text).toBe(decode(ids.filter((id) => id < tokenizer.size)));
      }),
      { numRuns: 100 },
    );
  });

  it("pieces keep the spaces the tokenizer's clean-up removes from the decoded text around punctuation", () => {
    const apostrophe = Array.from({ length: tokenizer.size }, (_, id) => id).find((id) => tokenizer.tokenString(id) === "▁'");
    if (apostrophe === undefined) throw new Error('the fixture tokenizer has no "▁\'" token');
    const the = tokenizer.encode('the')[0]!;
    const pieces = new IncrementalDetokenizer(tokenizer);
    for (const id of [the, apostrophe, the]) pieces.push(id);
    expect(pieces.text).toBe("the ' the");
    expect(decode([the, apostrophe, the])).toBe("the'the");
  });

  it('peek gives the piece a token would add, without adding it', () => {
    const ids = tokenizer.encode('the small green').slice(0, -1);
    const pieces = new IncrementalDetokenizer(tokenizer);
    for (const id of ids.slice(0, -1)) pieces.push(id);
    const before = pieces.text;
    const peeked = pieces.peek(ids.at(-1)!);
    expect(pieces.text).toBe(before);
    expect(pieces.push(ids.at(-1)!)).toBe(peeked);
  });

  it('peekInsteadOfLast gives what peek gave before the last push, for every prefix and candidate', () => {
    const ids = tokenizer.encode('the small green house sat on the mat').slice(0, -1);
    const candidates = tokenizer.encode('cat mat the green').slice(0, -1);
    const pieces = new IncrementalDetokenizer(tokenizer);
    for (const id of ids) {
      const expected = candidates.map((candidate) => pieces.peek(candidate));
      const text = pieces.text;
      pieces.push(id);
      const textAfter = pieces.text;
      expect(candidates.map((candidate) => pieces.peekInsteadOfLast(candidate))).toEqual(expected);
      expect(pieces.text).toBe(textAfter);
      expect(textAfter.startsWith(text)).toBe(true);
    }
  });

  it('after a rewind the text is that of the remaining tokens, and decoding continues from there', () => {
    const first = tokenizer.encode('the small green house').slice(0, -1);
    const second = tokenizer.encode('the small cat').slice(0, -1);
    const pieces = new IncrementalDetokenizer(tokenizer);
    for (const id of first) pieces.push(id);
    pieces.rewind(first.length - 2);
    expect(pieces.text).toBe(decode(first.slice(0, 2)));
    for (const id of second.slice(2)) pieces.push(id);
    expect(pieces.text).toBe('the small cat');
  });
});

describe('stop conditions', () => {
  it('a stop sequence matches only when the generated ids end with it', () => {
    const stop = new StopConditions([], [[5, 6]]);
    expect(stop.reached([1, 5, 6], '', 0)).toBe(true);
    expect(stop.reached([5, 6, 7], '', 0)).toBe(false);
    expect(stop.reached([6], '', 0)).toBe(false);
  });

  it('a stop string matches when the new text completes it, even when it began in earlier text', () => {
    const stop = new StopConditions(['green ho'], []);
    expect(stop.reached([], 'the green', 3)).toBe(false);
    expect(stop.reached([], 'the green house', 'the green'.length)).toBe(true);
    // Text that did not grow cannot have completed anything new.
    expect(stop.reached([], 'the green house', 'the green house'.length)).toBe(false);
  });
});

/**
 * `regex`: the safe subset compiles to an automaton that accepts exactly what JavaScript's engine accepts as
 * a full match, refuses what is not regular (or not supported) at `Start`, and masks tokens so that every
 * decoding ends in a matching text.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileRegex } from '../../../src/processors/constrained/regex.js';
import { DEAD } from '../../../src/processors/constrained/regex/dfa.js';
import { outputText } from '../../../src/processors/constrained/token-text.js';
import { ProcessorParameterError } from '../../../src/processors/errors.js';
import { processorSpec } from '../../../src/processors/param-values.js';
import { Pipeline } from '../../../src/processors/pipeline.js';
import { SeededDraws } from '../../../src/processors/selection/sampling.js';
import { StreamScorer } from '../../../src/processors/selection/stream-scorer.js';
import { createTokenSelector } from '../../../src/processors/selection/token-selector.js';
import { createProcessor, registry, staticContext, stepAt, survivors } from './test-context.js';

function fullMatch(pattern: string, text: string): boolean {
  const dfa = compileRegex(pattern);
  let state = dfa.start;
  for (const char of text) {
    if (state === DEAD) return false;
    state = dfa.next(state, char.codePointAt(0)!);
  }
  return state !== DEAD && dfa.isAccepting(state);
}

describe('the automaton', () => {
  const patterns = [
    'a(b|1)*-?',
    '(ab|a)*b',
    '[a-b]{2,3}1?',
    '\\d+( \\d+)*',
    '(a|b)*a(a|b){2}',
    '.*-.*',
    '[^a]+',
    'a{0}b',
    '(?:ab)+|1',
    '\\w+\\s?\\W*',
    '(a+)+$',
    '^b*$',
    'a?b??',
    '[\\d-]+',
    '(?<word>[ab]+)\\.?',
    '\\x61|\\u0062{2,}',
    '[]a|b',
    '[^]',
    '[a-c]x[b-d]?',
    '[^ab]+a',
    '\\w\\W\\d*',
    '(a|[^a-z])+b?',
    '[.-]+[^.1]',
    '((){3}a|()b){2}',
    '(a*|b)+c?',
    '(|a)(b|)x',
    '(a|b*)*d',
    '((a|)|b)+',
    '(a|b)(c|d)*(a|)',
    '(x*|y?)(a+|b){1,2}',
  ];

  it('accepts exactly the full matches of JavaScript`s RegExp', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...patterns),
        fc.string({ unit: fc.constantFrom('a', 'b', 'c', 'd', 'x', '1', '-', ' ', '.', '_'), maxLength: 9 }),
        (pattern, text) => {
          expect(fullMatch(pattern, text)).toBe(new RegExp(`^(?:${pattern})$`).test(text));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('has no catastrophic backtracking: (a+)+$ against 5,000 a`s and a b answers at once', () => {
    expect(fullMatch('(a+)+$', `${'a'.repeat(5000)}b`)).toBe(false);
    expect(fullMatch('(a+)+$', 'a'.repeat(5000))).toBe(true);
  });

  it('handles code points beyond the BMP as single characters', () => {
    expect(fullMatch('.', '😀')).toBe(true);
    expect(fullMatch('[😀-😂]{2}', '😁😂')).toBe(true);
  });
});

describe('patterns refused at Start, with the reason', () => {
  const refusal = (pattern: string): string => {
    try {
      registry.get('regex').validate(processorSpec('regex', { pattern }).params, staticContext());
    } catch (error) {
      expect(error).toBeInstanceOf(ProcessorParameterError);
      return (error as ProcessorParameterError).detail;
    }
    throw new Error(`accepted ${pattern}`);
  };

  it.each([
    ['(a)\\1', 'backreferences are not supported'],
    ['(?=a)a', 'lookahead is not supported'],
    ['(?<!a)b', 'lookbehind is not supported'],
    ['\\bword', 'word boundaries (\\b, \\B)'],
    ['a^b', '`^` is only supported at the start of the pattern'],
    ['a$b', '`$` is only supported at the end of the pattern'],
    ['a{2000}', 'repetition counts above 1,000 are not supported'],
    ['(a{1000}){1000}', 'expands to more than 20,000 automaton states'],
    ['a**', 'a quantifier cannot follow another quantifier'],
    ['*a', 'nothing to repeat'],
    ['(a', 'missing `)`'],
    ['a)', 'unmatched `)`'],
    ['[z-a]', 'range out of order'],
    ['\\p{L}', 'Unicode property escapes are not supported'],
    ['\\q', 'unknown escape \\q'],
    ['a{2', 'malformed quantifier'],
    ['(?i)a', 'inline flags'],
    ['[]', 'matches no text at all'],
  ])('%s: %s', (pattern, reason) => {
    const detail = refusal(pattern);
    expect(detail.startsWith(`\`pattern\` ${JSON.stringify(pattern)} `)).toBe(true);
    expect(detail).toContain(reason);
  });
});

// Ids: 0-2 special, 13 special sentinel; digits with and without the word-boundary mark.
const VOCABULARY = [
  '<pad>', '</s>', '<unk>', '▁', '1', '2', '-', '12', '▁1', '▁2', '▁yes', '▁no', '▁sir', '<extra_id_0>', 'yes', 'no', 's', 'ir',
];
const context = staticContext({ vocabulary: VOCABULARY, specialIds: [0, 1, 2, 13] });

function allowed(pattern: string, generated: number[]): number[] {
  const row = new Float32Array(VOCABULARY.length).fill(0);
  createProcessor('regex', { pattern }, context).apply(row, stepAt([0, ...generated]));
  return survivors(row);
}

function decode(ids: readonly number[]): string {
  return ids
    .filter((id) => !context.isSpecialToken(id))
    .map((id, index) => outputText(VOCABULARY[id]!, index === 0))
    .join('');
}

describe('the regex processor', () => {
  const PHONE = '\\d{1,2}-\\d';

  it('at the first step allows tokens whose text, without its leading space, can start a match', () => {
    // '▁' decodes to '' as the first token; '▁1' to '1'. '-', words, special tokens and EOS are not allowed.
    expect(allowed(PHONE, [])).toEqual([3, 4, 5, 7, 8, 9]);
  });

  it('after the first token a leading `▁` is a space', () => {
    expect(allowed(PHONE, [3])).toEqual([4, 5, 7]);
  });

  it('allows only what keeps a match possible, and EOS only in an accepting state', () => {
    expect(allowed(PHONE, [7])).toEqual([6]);
    expect(allowed(PHONE, [4])).toEqual([4, 5, 6]);
    expect(allowed(PHONE, [4, 6])).toEqual([4, 5]);
    expect(allowed(PHONE, [4, 6, 5])).toEqual([1]);
  });

  it('special tokens in the history add no text', () => {
    expect(allowed(PHONE, [13, 4])).toEqual(allowed(PHONE, [4]));
  });

  it('follows rewinds: one instance gives the right mask when the history shrinks or changes', () => {
    const processor = createProcessor('regex', { pattern: PHONE }, context);
    const maskAfter = (generated: number[]) => {
      const row = new Float32Array(VOCABULARY.length);
      processor.apply(row, stepAt([0, ...generated]));
      return survivors(row);
    };
    expect(maskAfter([4, 6, 5])).toEqual([1]);
    expect(maskAfter([4])).toEqual([4, 5, 6]);
    expect(maskAfter([7])).toEqual([6]);
    expect(maskAfter([4, 6])).toEqual([4, 5]);
  });

  it('every sampled decoding over random scores ends in a text the pattern matches', () => {
    const patterns = ['(yes|no)( sir)?', '\\d{1,3}(-\\d)?', '(12|1)+-?2'];
    const noise = new SeededDraws(3);
    for (const pattern of patterns) {
      const pipeline = Pipeline.build(registry, [processorSpec('regex', { pattern })], context);
      for (let run = 0; run < 60; run++) {
        const scorer = new StreamScorer(VOCABULARY.length, createTokenSelector({ mode: 'sample', seed: run }));
        const history = [0];
        for (let step = 0; step < 200 && history.at(-1) !== 1; step++) {
          const raw = Float32Array.from(VOCABULARY, (_, id) => 3 * noise.uniform(run * 8192 + step * 32 + id));
          history.push(scorer.choose(raw, pipeline, stepAt(history)));
        }
        expect(history.at(-1)).toBe(1);
        expect(decode(history)).toMatch(new RegExp(`^(?:${pattern})$`));
      }
    }
  });
});

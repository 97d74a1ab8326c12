/**
 * Greedy selection over any pipeline of built-ins takes the argmax (lowest id on ties) of the row the
 * whole pipeline produced, run in order, and reports those processed scores: never the argmax of a
 * pipeline with stages skipped. fast-check draws pipelines of one to four distinct built-ins, every one of
 * them possible, with valid parameters, over random rows and histories.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BUILTIN_PROCESSORS } from '../../../src/processors/builtin/index.js';
import { EmptyDistributionError } from '../../../src/processors/errors.js';
import { paramsFromJson } from '../../../src/processors/param-values.js';
import { Pipeline } from '../../../src/processors/pipeline.js';
import { createTokenSelector } from '../../../src/processors/selection/token-selector.js';
import { StreamScoring } from '../../../src/processors/stream-scoring.js';
import type { ProcessorSpec } from '../../../src/processors/types.js';
import { registry, staticContext } from './test-context.js';

const VOCABULARY = ['<pad>', '</s>', '<unk>', '▁a', '▁b', '▁c', '▁ab', '▁ba', 'a', 'b', 'c', '▁', '▁x', 'x', '▁y', 'y'];
const V = VOCABULARY.length;
const context = staticContext({ vocabulary: VOCABULARY, encoderInputIds: [3, 4, 5, 4, 1], maxLength: 12 });

const id = fc.integer({ min: 0, max: V - 1 });
const ids = fc.array(id, { minLength: 1, maxLength: 4 });
const unit = (min: number, max: number) => fc.double({ min, max, noNaN: true });
const keep = fc.record({ min_tokens_to_keep: fc.integer({ min: 1, max: 3 }) }, { requiredKeys: [] });

/** Valid JSON parameters of every built-in. */
const PARAMS: Readonly<Record<string, fc.Arbitrary<Record<string, unknown>>>> = {
  // Hugging Face's list form refuses token 0 in a biased sequence, and keeps one bias per sequence.
  sequence_bias: fc
    .uniqueArray(fc.array(fc.integer({ min: 1, max: V - 1 }), { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 3, selector: (seq) => seq.join(',') })
    .chain((sequences) => fc.tuple(...sequences.map((seq) => fc.double({ min: -20, max: 60, noNaN: true }).map((bias) => [seq, bias]))))
    .map((list) => ({ sequence_bias: list })),
  encoder_repetition_penalty: unit(0.3, 3).map((value) => ({ encoder_repetition_penalty: value })),
  repetition_penalty: unit(0.3, 3).map((value) => ({ repetition_penalty: value })),
  no_repeat_ngram_size: fc.integer({ min: 1, max: 3 }).map((value) => ({ no_repeat_ngram_size: value })),
  encoder_no_repeat_ngram_size: fc.integer({ min: 1, max: 3 }).map((value) => ({ encoder_no_repeat_ngram_size: value })),
  // Hugging Face drops a bad word that is EOS alone; the processor refuses it, so words here avoid EOS.
  bad_words_ids: fc.array(fc.array(fc.integer({ min: 2, max: V - 1 }), { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 3 }).map((list) => ({ bad_words_ids: list })),
  min_length: fc.integer({ min: 0, max: 6 }).map((value) => ({ min_length: value })),
  min_new_tokens: fc.integer({ min: 0, max: 5 }).map((value) => ({ min_new_tokens: value })),
  forced_bos_token_id: id.map((value) => ({ forced_bos_token_id: value })),
  forced_eos_token_id: id.map((value) => ({ forced_eos_token_id: value })),
  remove_invalid_values: fc.constant({}),
  exponential_decay_length_penalty: fc.record({ start_index: fc.integer({ min: 0, max: 4 }), decay_factor: unit(0.5, 2) }),
  suppress_tokens: ids.map((list) => ({ suppress_tokens: list })),
  begin_suppress_tokens: ids.map((list) => ({ begin_suppress_tokens: list })),
  temperature: unit(0.05, 4).map((value) => ({ temperature: value })),
  top_k: fc.tuple(fc.integer({ min: 1, max: V + 2 }), keep).map(([value, extra]) => ({ top_k: value, ...extra })),
  top_p: fc.tuple(unit(0.01, 1), keep).map(([value, extra]) => ({ top_p: value, ...extra })),
  min_p: fc.tuple(unit(0, 1), keep).map(([value, extra]) => ({ min_p: value, ...extra })),
  typical_p: fc.tuple(unit(0.01, 0.99), keep).map(([value, extra]) => ({ typical_p: value, ...extra })),
  epsilon_cutoff: fc.tuple(unit(1e-4, 0.5), keep).map(([value, extra]) => ({ epsilon_cutoff: value, ...extra })),
  eta_cutoff: fc.tuple(unit(1e-4, 0.5), keep).map(([value, extra]) => ({ eta_cutoff: value, ...extra })),
  renormalize_logits: fc.constant({}),
  allow_tokens: ids.map((list) => ({ token_ids: list })),
  ban_tokens: ids.map((list) => ({ token_ids: list })),
  force_token_at: fc.tuple(fc.integer({ min: 0, max: 4 }), id).map(([step, token]) => ({ step, token_id: token })),
  choice: fc.uniqueArray(fc.constantFrom('a', 'b', 'ab', 'ba c', 'x y', 'c a b'), { minLength: 1, maxLength: 3 }).map((choices) => ({ choices })),
  regex: fc.constantFrom('a+', '[ab]*c?', ' ?(x|y)+', '(ab|ba) ?c', '.{0,3}').map((pattern) => ({ pattern })),
};

const pipelineSpecs: fc.Arbitrary<ProcessorSpec[]> = fc
  .uniqueArray(fc.constantFrom(...Object.keys(PARAMS)), { minLength: 1, maxLength: 4 })
  .chain((names) => fc.tuple(...names.map((name) => PARAMS[name]!.map((params) => ({ name, params: paramsFromJson(params) })))));

/** Rows of finite scores with a few ties and some removed tokens. */
const row = fc
  .tuple(
    fc.array(fc.oneof(fc.double({ min: -12, max: 12, noNaN: true }), fc.constantFrom(-1, 0, 2.5, 3)), { minLength: V, maxLength: V }),
    fc.array(fc.boolean(), { minLength: V, maxLength: V }),
  )
  .map(([scores, removed]) => Float32Array.from(scores.map((score, i) => (removed[i] && i % 3 === 0 ? -Infinity : score))));

/** Decoder histories: the start token, then up to five ids. */
const history = fc.array(id, { maxLength: 5 }).map((rest) => [0, ...rest]);

/** The lowest id of the highest finite score; -1 when none. */
function firstArgmax(scores: Float32Array): number {
  let best = -1;
  for (let i = 0; i < scores.length; i++) if (scores[i]! < Infinity && scores[i]! > (best < 0 ? -Infinity : scores[best]!)) best = i;
  return best;
}

describe('greedy selection over a random pipeline of built-ins', () => {
  it('every built-in can be drawn', () => {
    expect(Object.keys(PARAMS).sort()).toEqual(BUILTIN_PROCESSORS.map((definition) => definition.name).sort());
  });

  it('takes the argmax of the whole pipeline run in order, and reports its processed scores', () => {
    fc.assert(
      fc.property(pipelineSpecs, row, history, (specs, raw, tokens) => {
        const scoring = new StreamScoring({
          registry,
          context,
          specs,
          fields: specs.map((_, i) => `processors[${i}]`),
          selector: createTokenSelector({ mode: 'greedy' }),
          report: { processedScores: true },
        });
        const expected = Float32Array.from(raw);
        Pipeline.build(registry, specs, context).run(expected, { history: tokens, step: tokens.length - 1 });
        const best = firstArgmax(expected);
        const rawCopy = Float32Array.from(raw);
        if (best < 0) {
          expect(() => scoring.choose(raw, tokens, tokens.length - 1, undefined)).toThrow(EmptyDistributionError);
          return;
        }
        const token = scoring.choose(raw, tokens, tokens.length - 1, undefined);
        expect(token).toBe(best);
        expect(Array.from(scoring.report(raw, token, false).processedScores!)).toEqual(Array.from(expected));
        expect(Array.from(raw)).toEqual(Array.from(rawCopy));
      }),
      { numRuns: 1500 },
    );
  });
});

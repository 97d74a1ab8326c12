/**
 * Every worked example of processors.md §6 (V = 6; 0 = decoder start / pad, 1 = EOS), with its values and
 * surviving sets, plus the tie cases.
 */
import { describe, expect, it } from 'vitest';
import { processorSpec } from '../../../src/processors/param-values.js';
import { Pipeline } from '../../../src/processors/pipeline.js';
import { selectGreedy } from '../../../src/processors/selection/greedy.js';
import { entropy, summarizeScores } from '../../../src/processors/selection/score-statistics.js';
import { applied, probabilities, registry, SECTION_6_2, staticContext, stepAt, survivors } from './test-context.js';

const Z_6_1 = [2.0, 0.5, 1.8, -1.5, 3.0, 0.0];
const NEG_INF = -Infinity;

function expectProbabilities(row: Float32Array, expected: Record<number, number>): void {
  const p = probabilities(row);
  expect(survivors(row)).toEqual(Object.keys(expected).map(Number));
  for (const [id, value] of Object.entries(expected)) expect(p[Number(id)]).toBeCloseTo(value, 5);
}

function runPipeline(specs: Parameters<typeof processorSpec>[], scores: Float32Array, history = [0]): Float32Array {
  const pipeline = Pipeline.build(
    registry,
    specs.map((args) => processorSpec(...args)),
    staticContext({ vocabSize: scores.length }),
  );
  const row = Float32Array.from(scores);
  pipeline.run(row, stepAt(history));
  return row;
}

describe('§6.1 repetition penalty', () => {
  it('penalises each token of the history once, start token included, and moves the argmax from 4 to 2', () => {
    const before = Float32Array.from(Z_6_1);
    const row = applied('repetition_penalty', { repetition_penalty: 2.0 }, Z_6_1, [0, 4, 3, 4]);
    expect(Array.from(row)).toEqual([1.0, 0.5, Math.fround(1.8), -3.0, 1.5, 0.0]);
    expect(selectGreedy(before, 0)).toBe(4);
    expect(selectGreedy(row, 0)).toBe(2);
  });

  it('rounds the penalty to float32 first, giving PyTorch`s -1.8000000715255737 for -1.5 × 1.2', () => {
    const row = applied('repetition_penalty', { repetition_penalty: 1.2 }, Z_6_1, [0, 4, 3, 4]);
    expect(row[3]).toBe(-1.8000000715255737);
    expect(row[2]).toBe(Math.fround(1.8));
  });

  it('leaves a zero logit of a repeated token at zero', () => {
    const row = applied('repetition_penalty', { repetition_penalty: 2.0 }, Z_6_1, [0, 5]);
    expect(row[5]).toBe(0);
  });
});

describe('§6.3 temperature', () => {
  it('T = 0.5 squares the weights: probabilities ∝ [16, 400, 900, 121, 625, 100]', () => {
    const row = applied('temperature', { temperature: 0.5 }, SECTION_6_2);
    [2.772589, 5.991465, 6.802395, 4.795791, 6.437752, 4.60517].forEach((value, id) => expect(row[id]).toBeCloseTo(value, 5));
    expectProbabilities(row, { 0: 0.007401, 1: 0.185014, 2: 0.416281, 3: 0.055967, 4: 0.289084, 5: 0.046253 });
  });

  it('T = 2 takes square roots: probabilities ∝ √w', () => {
    const row = applied('temperature', { temperature: 2.0 }, SECTION_6_2);
    [0.693147, 1.497866, 1.700599, 1.198948, 1.609438, 1.151293].forEach((value, id) => expect(row[id]).toBeCloseTo(value, 5));
    expectProbabilities(row, { 0: 0.085367, 1: 0.190886, 2: 0.233787, 3: 0.141565, 4: 0.213417, 5: 0.134977 });
  });

  it('never moves the argmax (id 2)', () => {
    for (const temperature of [0.5, 2.0, 10]) {
      expect(selectGreedy(applied('temperature', { temperature }, SECTION_6_2), 0)).toBe(2);
    }
  });
});

describe('§6.4 top-k', () => {
  it('top_k = 2 keeps ids 2 and 4: probabilities 30/55 and 25/55', () => {
    expectProbabilities(applied('top_k', { top_k: 2 }, SECTION_6_2), { 2: 0.545455, 4: 0.454545 });
  });

  it('keeps every token tied at the k-th score: [1, 3, 2, 2, 0, -inf] with k = 2 keeps {1, 2, 3}', () => {
    const row = applied('top_k', { top_k: 2 }, [1.0, 3.0, 2.0, 2.0, 0.0, NEG_INF]);
    expect(Array.from(row)).toEqual([NEG_INF, 3, 2, 2, NEG_INF, NEG_INF]);
  });
});

describe('§6.5 top-p', () => {
  it('top_p = 0.7 keeps {1, 2, 4} (kept mass 0.75)', () => {
    expectProbabilities(applied('top_p', { top_p: 0.7 }, SECTION_6_2), { 1: 0.266667, 2: 0.4, 4: 0.333333 });
  });

  it('top_p = 0.2 keeps only id 2', () => {
    expect(survivors(applied('top_p', { top_p: 0.2 }, SECTION_6_2))).toEqual([2]);
  });

  it('runs after temperature: T = 0.5 then top_p = 0.7 also removes id 1', () => {
    const row = runPipeline([['temperature', { temperature: 0.5 }], ['top_p', { top_p: 0.7 }]], SECTION_6_2);
    expectProbabilities(row, { 2: 0.590164, 4: 0.409836 });
  });

  it('the full chain T = 0.5, top_k = 3, top_p = 0.75 keeps {2, 4}', () => {
    const afterTopK = runPipeline([['temperature', { temperature: 0.5 }], ['top_k', { top_k: 3 }]], SECTION_6_2);
    expectProbabilities(afterTopK, { 1: 0.207792, 2: 0.467532, 4: 0.324675 });
    const row = runPipeline(
      [['temperature', { temperature: 0.5 }], ['top_k', { top_k: 3 }], ['top_p', { top_p: 0.75 }]],
      SECTION_6_2,
    );
    expectProbabilities(row, { 2: 0.590164, 4: 0.409836 });
  });
});

describe('§6.6 no-repeat n-gram (z all 1.0)', () => {
  const ones = [1, 1, 1, 1, 1, 1];
  const ngram = (n: number, history: number[]) => Array.from(applied('no_repeat_ngram_size', { no_repeat_ngram_size: n }, ones, history));

  it('n = 2, history [0, 3, 5, 3]: prefix (3) bans 5', () => {
    expect(ngram(2, [0, 3, 5, 3])).toEqual([1, 1, 1, 1, 1, NEG_INF]);
  });

  it('n = 3, history [0, 3, 5, 3, 5]: prefix (3, 5) bans 3', () => {
    expect(ngram(3, [0, 3, 5, 3, 5])).toEqual([1, 1, 1, NEG_INF, 1, 1]);
  });

  it('n = 2, history [0, 4, 0]: the decoder start token takes part, banning 4', () => {
    expect(ngram(2, [0, 4, 0])).toEqual([1, 1, 1, 1, NEG_INF, 1]);
  });

  it('n = 1, history [0, 4, 2]: bans every token of the history, start token included', () => {
    expect(ngram(1, [0, 4, 2])).toEqual([NEG_INF, 1, NEG_INF, 1, NEG_INF, 1]);
  });

  it('n = 2, history [0]: a history shorter than n bans nothing', () => {
    expect(ngram(2, [0])).toEqual(ones);
  });
});

describe('§6.7 min-p (max p = 0.30)', () => {
  it('min_p = 0.5 (threshold 0.15) keeps {1, 2, 4}', () => {
    expectProbabilities(applied('min_p', { min_p: 0.5 }, SECTION_6_2), { 1: 0.266667, 2: 0.4, 4: 0.333333 });
  });

  it('min_p = 0.7 (threshold 0.21) keeps {2, 4}', () => {
    expectProbabilities(applied('min_p', { min_p: 0.7 }, SECTION_6_2), { 2: 0.545455, 4: 0.454545 });
  });
});

describe('§6.8 typical, epsilon, eta', () => {
  it('the entropy of §6.2 is 1.631467 nats', () => {
    expect(entropy(summarizeScores(SECTION_6_2))).toBeCloseTo(1.631467, 6);
  });

  it('typical_p = 0.5 keeps {1, 4, 2}', () => {
    expect(survivors(applied('typical_p', { typical_p: 0.5 }, SECTION_6_2))).toEqual([1, 2, 4]);
  });

  it('typical_p = 0.9 removes only id 0', () => {
    expect(survivors(applied('typical_p', { typical_p: 0.9 }, SECTION_6_2))).toEqual([1, 2, 3, 4, 5]);
  });

  it('epsilon_cutoff = 0.105 removes ids 0 and 5', () => {
    expect(survivors(applied('epsilon_cutoff', { epsilon_cutoff: 0.105 }, SECTION_6_2))).toEqual([1, 2, 3, 4]);
  });

  it('eta_cutoff = 0.1 (η = 0.061868) and 0.2 (η = 0.087494) remove only id 0', () => {
    expect(survivors(applied('eta_cutoff', { eta_cutoff: 0.1 }, SECTION_6_2))).toEqual([1, 2, 3, 4, 5]);
    expect(survivors(applied('eta_cutoff', { eta_cutoff: 0.2 }, SECTION_6_2))).toEqual([1, 2, 3, 4, 5]);
  });
});

describe('§6.9 smaller checks', () => {
  it('greedy ties go to the lowest id: [1, 3, 3, 0, 0, 0] selects 1', () => {
    expect(selectGreedy(Float32Array.from([1.0, 3.0, 3.0, 0, 0, 0]), 0)).toBe(1);
  });

  it('min_length = 3 masks EOS for histories [0] and [0, x], not [0, x, y]', () => {
    const ones = [1, 1, 1, 1, 1, 1];
    expect(applied('min_length', { min_length: 3 }, ones, [0])[1]).toBe(NEG_INF);
    expect(applied('min_length', { min_length: 3 }, ones, [0, 4])[1]).toBe(NEG_INF);
    expect(Array.from(applied('min_length', { min_length: 3 }, ones, [0, 4, 5]))).toEqual(ones);
  });

  it('min_new_tokens = 2 gives the same masks as min_length = 3', () => {
    const ones = [1, 1, 1, 1, 1, 1];
    for (const history of [[0], [0, 4], [0, 4, 5]]) {
      expect(Array.from(applied('min_new_tokens', { min_new_tokens: 2 }, ones, history))).toEqual(
        Array.from(applied('min_length', { min_length: 3 }, ones, history)),
      );
    }
  });

  it('forced EOS with max_new_tokens = 3 (max_length 4) forces EOS at history length 3', () => {
    const context = staticContext({ maxLength: 4 });
    const forced = applied('forced_eos_token_id', { forced_eos_token_id: 1 }, Z_6_1, [0, 3, 4], context);
    expect(Array.from(forced)).toEqual([NEG_INF, 0, NEG_INF, NEG_INF, NEG_INF, NEG_INF]);
    expect(Array.from(applied('forced_eos_token_id', { forced_eos_token_id: 1 }, Z_6_1, [0, 3], context))).toEqual(
      Array.from(Float32Array.from(Z_6_1)),
    );
  });

  it('encoder repetition penalty 2.0 with encoder ids [3, 5, 1] favours them', () => {
    const context = staticContext({ encoderInputIds: [3, 5, 1] });
    const row = applied('encoder_repetition_penalty', { encoder_repetition_penalty: 2.0 }, Z_6_1, [0], context);
    expect(Array.from(row)).toEqual([2.0, 1.0, Math.fround(1.8), -0.75, 3.0, 0.0]);
  });

  it('encoder no-repeat n = 2 over [3, 5, 2, 1]: [0, 3] bans 5, [0, 2] bans EOS', () => {
    const context = staticContext({ encoderInputIds: [3, 5, 2, 1] });
    const ones = [1, 1, 1, 1, 1, 1];
    const params = { encoder_no_repeat_ngram_size: 2 };
    expect(survivors(applied('encoder_no_repeat_ngram_size', params, ones, [0, 3], context))).toEqual([0, 1, 2, 3, 4]);
    expect(survivors(applied('encoder_no_repeat_ngram_size', params, ones, [0, 2], context))).toEqual([0, 2, 3, 4, 5]);
  });

  it('exponential decay (2, 2.0) raises EOS from cur_len 4: 0.5 → 1.0, then 2.0; -1.0 → 0.0', () => {
    const params = { start_index: 2, decay_factor: 2.0 };
    const eosAt = (score: number, history: number[]) =>
      applied('exponential_decay_length_penalty', params, [0, score, 0, 0, 0, 0], history)[1];
    expect(eosAt(0.5, [0, 3, 3])).toBe(0.5);
    expect(eosAt(0.5, [0, 3, 3, 3])).toBe(1.0);
    expect(eosAt(0.5, [0, 3, 3, 3, 3])).toBe(2.0);
    expect(eosAt(-1.0, [0, 3, 3, 3])).toBe(0.0);
  });

  it('sequence bias [[[5], -1.0], [[3, 2], 4.0]] with history [0, 3] lowers 5 and raises 2', () => {
    const zeros = [0, 0, 0, 0, 0, 0];
    const bias = { sequence_bias: [[[5], -1.0], [[3, 2], 4.0]] };
    expect(Array.from(applied('sequence_bias', bias, zeros, [0, 3]))).toEqual([0, 0, 4, 0, 0, -1]);
    // Not applied when the history does not end with the prefix …
    expect(Array.from(applied('sequence_bias', bias, zeros, [0, 4]))).toEqual([0, 0, 0, 0, 0, -1]);
    // … nor, as in Hugging Face, when the prefix is the whole history (the sequence is longer than it).
    expect(Array.from(applied('sequence_bias', { sequence_bias: [[[3, 2], 4.0]] }, zeros, [3]))).toEqual(zeros);
  });

  it('sequence bias accepts an integer bias (-1 for -1.0) and refuses token 0 like Hugging Face`s list form', () => {
    expect(applied('sequence_bias', { sequence_bias: [[[5], -1]] }, [0, 0, 0, 0, 0, 0])[5]).toBe(-1);
    expect(() => applied('sequence_bias', { sequence_bias: [[[0, 2], 4.0]] }, [0, 0, 0, 0, 0, 0])).toThrow(
      '`sequence_bias[0][0][0]` must be >= 1; given 0',
    );
  });
});

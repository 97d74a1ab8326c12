/**
 * Beam search's selection rules on hand-worked vectors (vocabulary of 4 ids, EOS = 1, two beams, so the
 * search keeps K = 4 candidates a step). The rows are processed log-probabilities; the scorer never
 * normalizes them, so any numbers serve. Every expected value below is worked out in its comment.
 */
import { describe, expect, it } from 'vitest';
import { BEAM_SENTINEL, BeamSearchScorer, logSoftmax, topCandidates, type BeamSearchSettings, type EarlyStopping } from '../../../src/processors/index.js';

const row = (...values: number[]): Float32Array => Float32Array.from(values);

function search(overrides: Partial<BeamSearchSettings> = {}): BeamSearchScorer {
  return new BeamSearchScorer({
    numBeams: 2,
    lengthPenalty: 1,
    earlyStopping: false,
    numReturnSequences: 2,
    eosIds: new Set([1]),
    maxNewTokens: 5,
    ...overrides,
  });
}

/** Step 0 of every example: the prompt's row, given for both copies of the prompt. */
const FIRST = row(-3, -0.5, -1, -2);

describe('top candidates over the live beams', () => {
  it('ranks beam score plus log-probability, the lower beam then the lower id first among equals', () => {
    const candidates = topCandidates([row(-1, -2, -1), row(0, -1, -3)], [-1, -2], 4);
    // Sums: beam 0 [-2, -3, -2], beam 1 [-2, -3, -5]: the three -2 by flat index, then the first -3.
    expect(candidates).toEqual([
      { source: 0, token: 0, logprobSum: -2 },
      { source: 0, token: 2, logprobSum: -2 },
      { source: 1, token: 0, logprobSum: -2 },
      { source: 0, token: 1, logprobSum: -3 },
    ]);
  });

  it('counts NaN as -inf', () => {
    const candidates = topCandidates([row(NaN, -1)], [0], 2);
    expect(candidates.map((c) => [c.token, c.logprobSum])).toEqual([
      [1, -1],
      [0, -Infinity],
    ]);
  });
});

describe('one beam search step', () => {
  it('keeps the best continuations that did not take EOS, and the EOS one among the first num_beams as finished', () => {
    const beams = search();
    // Candidates from beam 0 (beam 1 is the prompt at -1e9): 1 (-0.5, EOS), 2 (-1), 3 (-2), 0 (-3).
    const outcome = beams.step([FIRST, FIRST]);
    expect(outcome.next).toEqual([
      { source: 0, token: 2 },
      { source: 0, token: 3 },
    ]);
    expect(beams.beams).toEqual([
      { tokens: [2], score: -1 },
      { tokens: [3], score: -2 },
    ]);
    expect(beams.finishedCount).toBe(1);
    // One slot is still empty (-1e9), so the best live beam can still improve the finished ones.
    expect(outcome.done).toBe(false);
  });

  it('lets only the first num_beams candidates finish: an EOS ranked lower is dropped', () => {
    const beams = search();
    beams.step([FIRST, FIRST]);
    // Live [2] at -1 and [3] at -2. Sums: b0 [-1.3, -3, -5, -5], b1 [-2.3, -6, -6, -6]; top 4:
    // b0t0 -1.3, b1t0 -2.3, b0t1 -3 (EOS, third: not among the first two), b0t2 -5.
    const outcome = beams.step([row(-0.3, -2, -4, -4), row(-0.3, -4, -4, -4)]);
    expect(beams.finishedCount).toBe(1);
    expect(beams.beams).toEqual([
      { tokens: [2, 0], score: expect.closeTo(-1.3, 6) },
      { tokens: [3, 0], score: expect.closeTo(-2.3, 6) },
    ]);
    expect(outcome.done).toBe(false);
  });

  it('fills the beams with copies of the prompt when its row has fewer than K finite scores, as Hugging Face does', () => {
    const beams = search();
    const only = row(-Infinity, -0.1, -Infinity, -2.4);
    // Beam 0 offers 1 (EOS, -0.1) and 3 (-2.4); the copy at -1e9 offers them again, ahead of beam 0's -inf
    // ones. The next live beams: 3 (-2.4), then the EOS lowered by 1e9 (-1e9 - 0.1), above the copy's 3.
    const outcome = beams.step([only, only]);
    expect(outcome.next).toEqual([
      { source: 0, token: 3 },
      { source: 0, token: 1 },
    ]);
    expect(beams.beams[1]!.score).toBeCloseTo(BEAM_SENTINEL - 0.1, 3);
    // The copy's EOS (third candidate) never finishes; beam 0's did.
    expect(beams.result().map((beam) => beam.tokens)).toEqual([[1]]);
  });
});

/**
 * Example B, length_penalty 2, max_new_tokens 5:
 * - step 0: [1] finishes at -0.5 / 1² = -0.5; live [2] (-1), [3] (-2);
 * - step 1: no EOS among the first two; live [2,0] (-1.3), [3,0] (-2.3);
 * - step 2: b0 EOS at -1.3 - 0.2 = -1.5: [2,0,1] finishes at -1.5 / 3² = -0.1667; live [3,0,0] (-2.4),
 *   [2,0,0] (-4.3). Both slots are full: early_stopping true stops here. False goes on, as the best live beam
 *   could still reach -2.4 / 3² = -0.2667 > -0.5 (the worst finished);
 * - step 3: [3,0,0,1] finishes at -2.45 / 4² = -0.153125, which drops [1]; the best live beam scores
 *   -4.4 / 4² = -0.275, below -0.1667: false stops. "never" scores it at the longest length,
 *   -4.4 / 5² = -0.176, also below.
 */
function runExampleB(earlyStopping: EarlyStopping, maxNewTokens = 5): { search: BeamSearchScorer; doneAt: number } {
  const beams = search({ lengthPenalty: 2, earlyStopping, maxNewTokens });
  const steps = [
    [FIRST, FIRST],
    [row(-0.3, -2, -4, -4), row(-0.3, -4, -4, -4)],
    [row(-3, -0.2, -3, -3), row(-0.1, -3, -3, -3)],
    [row(-2, -0.05, -2, -2), row(-1, -1, -1, -1)],
  ];
  for (let step = 0; step < steps.length; step++) {
    if (beams.step(steps[step]!).done) return { search: beams, doneAt: step };
  }
  return { search: beams, doneAt: -1 };
}

describe('the stop rule of each early_stopping value, and the length penalty', () => {
  it('true: stops once num_beams beams finished', () => {
    const { search: beams, doneAt } = runExampleB(true);
    expect(doneAt).toBe(2);
    const result = beams.result();
    expect(result.map((beam) => beam.tokens)).toEqual([[2, 0, 1], [1]]);
    expect(result[0]!.score).toBeCloseTo(-1.5 / 9, 6);
    expect(result[0]!.logprobSum).toBeCloseTo(-1.5, 6);
    expect(result[1]!.score).toBeCloseTo(-0.5, 6);
    expect(result.map((beam) => beam.end)).toEqual(['eos', 'eos']);
  });

  it('false: goes on while the best live beam, at its current length, beats the worst finished one', () => {
    const { search: beams, doneAt } = runExampleB(false);
    expect(doneAt).toBe(3);
    const result = beams.result();
    expect(result.map((beam) => beam.tokens)).toEqual([
      [3, 0, 0, 1],
      [2, 0, 1],
    ]);
    expect(result[0]!.score).toBeCloseTo(-2.45 / 16, 6);
  });

  it('"never": scores the best live beam at the longest length when length_penalty > 0', () => {
    expect(runExampleB('never').doneAt).toBe(3);
    // With room for 10 tokens the best live beam could reach -4.4 / 10² = -0.044 > -0.1667: it goes on.
    expect(runExampleB('never', 10).doneAt).toBe(-1);
    expect(runExampleB(false, 10).doneAt).toBe(3);
  });

  it('length_penalty 1 divides by the length, so the shorter finished beam wins here', () => {
    const beams = search({ lengthPenalty: 1 });
    beams.step([FIRST, FIRST]);
    // Sums: b0 [-3, -1.1 (EOS), -4, -5], b1 [-2.2, -5, -7, -7]: [2,1] finishes at -1.1 / 2 = -0.55; the best live
    // beam (-2.2 / 2 = -1.1) cannot beat -0.55: done.
    const outcome = beams.step([row(-2, -0.1, -3, -4), row(-0.2, -3, -5, -5)]);
    expect(outcome.done).toBe(true);
    expect(beams.result().map((beam) => [beam.tokens, beam.score])).toEqual([
      [[1], -0.5],
      [[2, 1], expect.closeTo(-0.55, 6)],
    ]);
  });

  it('at max_new_tokens every continuation ends; the first num_beams finish with reason max-new-tokens', () => {
    const beams = search({ maxNewTokens: 1, numReturnSequences: 2 });
    const outcome = beams.step([FIRST, FIRST]);
    expect(outcome.done).toBe(true);
    expect(beams.result().map((beam) => [beam.tokens, beam.score, beam.end])).toEqual([
      [[1], -0.5, 'eos'],
      [[2], -1, 'max-new-tokens'],
    ]);
  });

  it('num_return_sequences takes the best finished beams only', () => {
    const beams = search({ maxNewTokens: 1, numReturnSequences: 1 });
    beams.step([FIRST, FIRST]);
    expect(beams.result().map((beam) => beam.tokens)).toEqual([[1]]);
  });

  it('a stopped search returns its finished beams and its live ones scored at their length', () => {
    const beams = search({ numReturnSequences: 2 });
    beams.step([FIRST, FIRST]);
    // Finished [1] at -0.5; live [2] at -1 / 1 and [3] at -2 / 1.
    expect(beams.stoppedResult().map((beam) => [beam.tokens, beam.score, beam.end])).toEqual([
      [[1], -0.5, 'eos'],
      [[2], -1, 'client-stop'],
    ]);
  });
});

describe('log-softmax', () => {
  it('subtracts the log of the sum of exponentials, -inf staying -inf', () => {
    const out = new Float32Array(3);
    logSoftmax(row(Math.log(1), Math.log(3), -Infinity), out);
    expect(out[0]).toBeCloseTo(Math.log(0.25), 6);
    expect(out[1]).toBeCloseTo(Math.log(0.75), 6);
    expect(out[2]).toBe(-Infinity);
  });
});

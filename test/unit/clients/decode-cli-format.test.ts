import { describe, expect, it } from 'vitest';
import { forcedTokensByStep, parseForce } from '../../../clients/ts/cli/force-option.js';
import { reportStep, toJsonLine } from '../../../clients/ts/cli/step-report.js';
import { FORCED_LEGEND, formatStepRow, formatStepTableHeader } from '../../../clients/ts/cli/step-table.js';
import { TokenSource, type TokenChosen } from '../../../clients/ts/proto.js';

function token(overrides: Partial<TokenChosen>): TokenChosen {
  return {
    step: 0,
    tokenId: 0,
    text: '',
    logprob: 0,
    rawLogprob: 0,
    source: TokenSource.TOKEN_SOURCE_SELECTED,
    processedScores: undefined,
    alternatives: [],
    branch: 0,
    ...overrides,
  };
}

describe('decode command output', () => {
  const row = Float32Array.of(0, Math.log(3), Math.log(6)); // softmax = [0.1, 0.3, 0.6]
  const texts = ['a', '▁b', '▁c'];

  it('reports the probability and entropy of the raw softmax and the alternatives, most likely first', () => {
    const report = reportStep(row, token({ step: 4, tokenId: 1, text: ' b', logprob: -0.5 }), [2, 1], (id) => texts[id]!);
    expect(report.probability).toBeCloseTo(0.3, 6);
    expect(report.entropy).toBeCloseTo(-(0.1 * Math.log(0.1) + 0.3 * Math.log(0.3) + 0.6 * Math.log(0.6)), 6);
    expect(report.alternatives.map((c) => [c.tokenId, c.text, Number(c.probability.toFixed(6))])).toEqual([
      [2, '▁c', 0.6],
      [1, '▁b', 0.3],
    ]);
    expect(report.forced).toBe(false);
  });

  it('prints a row with step, quoted token, id, probability, entropy and alternatives; forced rows carry the mark', () => {
    const selected = reportStep(row, token({ step: 4, tokenId: 1, text: ' b' }), [2], (id) => texts[id]!);
    const forced = reportStep(row, token({ step: 5, tokenId: 0, text: 'a', source: TokenSource.TOKEN_SOURCE_FORCED }), [2], (id) => texts[id]!);
    expect(formatStepTableHeader(1)).toMatch(/^step\s+token\s+id\s+prob\s+entropy\s+top-1 \(raw\)$/);
    expect(formatStepRow(selected)).toMatch(/^ {3}4 {4}" b" +1 +0\.3000 +0\.898 +"▁c" 0\.6000$/);
    expect(formatStepRow(forced)).toMatch(/^ {3}5 \* {2}"a" +0 +0\.1000 /);
    expect(FORCED_LEGEND).toMatch(/^\* forced/);
  });

  it('writes a JSON line with snake_case keys and full-precision numbers', () => {
    const report = reportStep(row, token({ step: 1, tokenId: 2, text: ' c', logprob: -Infinity }), [2], (id) => texts[id]!);
    expect(JSON.parse(toJsonLine(report))).toEqual({
      step: 1,
      token_id: 2,
      text: ' c',
      forced: false,
      probability: report.probability,
      entropy: report.entropy,
      logprob: '-Infinity',
      alternatives: [{ token_id: 2, text: '▁c', probability: report.probability }],
    });
  });

  it('parses --force ID@STEP values and rejects malformed or repeated steps, naming the value', () => {
    expect(parseForce('644@2')).toEqual({ tokenId: 644, step: 2 });
    expect([...forcedTokensByStep(['5@0', '7@3'])]).toEqual([
      [0, 5],
      [3, 7],
    ]);
    expect(() => parseForce('644')).toThrow('--force must be ID@STEP with non-negative integers, e.g. 644@2; given 644');
    expect(() => forcedTokensByStep(['5@1', '6@1'])).toThrow('--force names step 1 twice (tokens 5 and 6)');
  });
});

import { describe, expect, it } from 'vitest';
import { formatScoreTables, scoreJson } from '../../../clients/ts/cli/score-report.js';
import { parseTargetIds } from '../../../clients/ts/cli/score-command.js';
import { DataType, LogitsFormat, ScoreResponse } from '../../../clients/ts/proto.js';
import { toScoreRequest, toScoreResult } from '../../../clients/ts/score.js';

describe('score requests', () => {
  it('encodes text targets as text, id targets as ids, and sends no rows unless asked', () => {
    const request = toScoreRequest({ inputIds: [4, 1], targets: ['Haus', [5, 1]], decoderPrefixIds: [7], topNAlternatives: 2, entropy: true });
    expect(request.input).toEqual({ $case: 'tokenIds', value: { ids: [4, 1] } });
    expect(request.targets).toEqual([{ target: { $case: 'text', value: 'Haus' } }, { target: { $case: 'tokenIds', value: { ids: [5, 1] } } }]);
    expect(request).toMatchObject({ decoderPrefixIds: [7], topNAlternatives: 2, entropy: true, rawLogits: LogitsFormat.LOGITS_FORMAT_NONE, rawTopK: 0 });
    expect(toScoreRequest({ text: 'x', targets: ['y'], rawLogits: 'top-k', rawTopK: 3 })).toMatchObject({ rawLogits: LogitsFormat.LOGITS_FORMAT_TOP_K, rawTopK: 3 });
  });

  it('refuses both inputs or neither, no target and an unknown row format', () => {
    expect(() => toScoreRequest({ text: 'x', inputIds: [1], targets: ['y'] })).toThrow('exactly one of `text` and `inputIds`');
    expect(() => toScoreRequest({ targets: ['y'] })).toThrow('exactly one of `text` and `inputIds`');
    expect(() => toScoreRequest({ text: 'x', targets: [] })).toThrow('at least one target');
    expect(() => toScoreRequest({ text: 'x', targets: ['y'], rawLogits: 'float64' as never })).toThrow('rawLogits must be one of float32, float16, top-k, none; given float64');
  });
});

const row = new Float32Array([0.5, -1, 2]);
const response = ScoreResponse.fromPartial({
  inputIds: [4, 1],
  decoderPromptIds: [0],
  results: [
    {
      logprobSum: -3.5,
      logprobMean: -1.75,
      text: 'a',
      tokens: [
        { tokenId: 2, logprob: -0.5, text: 'a', rank: 1, entropy: 0.25, alternatives: [{ tokenId: 2, text: 'a', logprob: -0.5, rawLogprob: -0.5 }], raw: { dtype: DataType.DATA_TYPE_FLOAT32, shape: [3], data: new Uint8Array(row.buffer) } },
        { tokenId: 1, logprob: -3, text: '', rank: 3, alternatives: [{ tokenId: 2, text: 'a', logprob: -0.25, rawLogprob: -0.25 }] },
      ],
    },
  ],
});

describe('score results', () => {
  it('reads each token with its row as float32, each target with its ids', () => {
    const [target] = toScoreResult(response).results;
    expect(target!.tokenIds).toEqual([2, 1]);
    expect([...target!.tokens[0]!.logits!]).toEqual([...row]);
    expect(target!.tokens[1]!.logits).toBeUndefined();
    expect(target!.tokens.map((token) => token.entropy)).toEqual([0.25, undefined]);
  });

  it('prints a table per target with the sum and mean, and JSON with snake_case names', () => {
    const result = toScoreResult(response);
    expect(formatScoreTables(result, ['a</s>'], { top: 1, entropy: true }).split('\n')).toEqual([
      'target 1: "a</s>" (2 tokens)',
      '   #  token                   id    logprob   rank  entropy  top-1 (logprob)',
      '   0  "a"                      2    -0.5000      1    0.250  "a" -0.5000',
      '   1  ""                       1    -3.0000      3        -  "a" -0.2500',
      '  sum -3.5000  mean -1.7500',
    ]);
    expect(JSON.parse(scoreJson(result, ['a</s>']))).toEqual({
      input_ids: [4, 1],
      decoder_prompt_ids: [0],
      results: [
        {
          target: 'a</s>',
          text: 'a',
          token_ids: [2, 1],
          logprob_sum: -3.5,
          logprob_mean: -1.75,
          tokens: [
            { token_id: 2, text: 'a', logprob: -0.5, rank: 1, entropy: 0.25, alternatives: [{ token_id: 2, text: 'a', logprob: -0.5 }] },
            { token_id: 1, text: '', logprob: -3, rank: 3, alternatives: [{ token_id: 2, text: 'a', logprob: -0.25 }] },
          ],
        },
      ],
    });
  });

  it('--ids targets are comma-separated ids; anything else names the target', () => {
    expect(parseTargetIds('644, 4598,1')).toEqual([644, 4598, 1]);
    expect(() => parseTargetIds('12,,3')).toThrow('given "12,,3"');
    expect(() => parseTargetIds('-1')).toThrow('token ids separated by commas');
  });
});

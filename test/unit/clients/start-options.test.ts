import { describe, expect, it } from 'vitest';
import { toParamValue } from '../../../clients/ts/param-values.js';
import { DecodeMode, LogitsFormat, SelectionMode } from '../../../clients/ts/proto.js';
import { toStartMessage } from '../../../clients/ts/start-options.js';

describe('start options', () => {
  it('encodes text, limits, sampling with a seed, stream options and the mode', () => {
    const start = toStartMessage({
      text: 'translate English to German: Hello',
      maxNewTokens: 12,
      generationConfig: { topP: 0.9, temperature: 0.7 },
      selection: { sample: { seed: 42 } },
      stream: { rawLogits: 'float16', entropy: true, topNAlternatives: 5 },
      mode: 'auto',
    });
    expect(start.input).toEqual({ $case: 'text', value: 'translate English to German: Hello' });
    expect(start.maxNewTokens).toBe(12);
    expect(start.generationConfig).toMatchObject({ topP: 0.9, temperature: 0.7 });
    expect(start.generationConfig?.topK).toBeUndefined();
    expect(start.selection).toEqual({ mode: SelectionMode.SELECTION_MODE_SAMPLE, seed: 42n });
    expect(start.stream).toEqual({
      rawLogits: LogitsFormat.LOGITS_FORMAT_FLOAT16,
      rawTopK: 0,
      processedScores: false,
      topNAlternatives: 5,
      entropy: true,
    });
    expect(start.mode).toBe(DecodeMode.DECODE_MODE_AUTO);
  });

  it('leaves limits to the server when none are given', () => {
    const start = toStartMessage({ inputIds: [5, 6, 1] });
    expect(start.input).toEqual({ $case: 'tokenIds', value: { ids: [5, 6, 1] } });
    expect(start.maxNewTokens).toBe(0);
    expect(start.selection).toBeUndefined();
    expect(start.mode).toBe(DecodeMode.DECODE_MODE_UNSPECIFIED);
  });

  it('requires exactly one of text and input ids', () => {
    expect(() => toStartMessage({})).toThrow('a decode needs exactly one of `text` and `inputIds`');
    expect(() => toStartMessage({ text: 'a', inputIds: [1] })).toThrow('a decode needs exactly one of `text` and `inputIds`');
  });

  it('rejects a seed outside the uint64 range, naming it', () => {
    expect(() => toStartMessage({ text: 'a', selection: { sample: { seed: -1 } } })).toThrow('sampling seed must be in [0, 2^64); given -1');
  });
});

describe('processor parameters', () => {
  it('sends integers as int_value, other numbers as float_value, and lists recursively', () => {
    expect(toParamValue(3, 'p')).toEqual({ kind: { $case: 'intValue', value: 3n } });
    expect(toParamValue(0.25, 'p')).toEqual({ kind: { $case: 'floatValue', value: 0.25 } });
    expect(toParamValue([[1, 2], 0.5], 'p')).toEqual({
      kind: {
        $case: 'listValue',
        value: {
          values: [
            { kind: { $case: 'listValue', value: { values: [{ kind: { $case: 'intValue', value: 1n } }, { kind: { $case: 'intValue', value: 2n } }] } } },
            { kind: { $case: 'floatValue', value: 0.5 } },
          ],
        },
      },
    });
  });

  it('rejects NaN, naming the parameter', () => {
    expect(() => toParamValue([1, NaN], 'sequence_bias.bias')).toThrow('parameter sequence_bias.bias[1] must be a number; given NaN');
  });
});

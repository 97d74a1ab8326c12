/**
 * Parameters are checked at `Start`: out-of-range values (with the bound named), values Hugging Face would
 * silently ignore, wrong kinds, unknown and missing names.
 */
import { describe, expect, it } from 'vitest';
import { ProcessorParameterError, UnknownProcessorError } from '../../../src/processors/errors.js';
import { intParam, paramsFromJson } from '../../../src/processors/param-values.js';
import type { ParamValue } from '../../../src/processors/types.js';
import { registry, staticContext } from './test-context.js';

const context = staticContext();

function validate(name: string, params: Record<string, unknown>): unknown {
  return registry.get(name).validate(paramsFromJson(params), context);
}

function rejection(name: string, params: Record<string, unknown> | Record<string, ParamValue>, raw = false): ProcessorParameterError {
  try {
    registry.get(name).validate(raw ? (params as Record<string, ParamValue>) : paramsFromJson(params), context);
  } catch (error) {
    expect(error).toBeInstanceOf(ProcessorParameterError);
    return error as ProcessorParameterError;
  }
  throw new Error(`${name} accepted ${JSON.stringify(params)}`);
}

describe('range checks name the bound and the value given', () => {
  it.each([
    ['top_p', { top_p: 1.5 }, '`top_p` must be in (0, 1]; given 1.5'],
    ['top_p', { top_p: 0 }, '`top_p` must be in (0, 1]; given 0'],
    ['temperature', { temperature: 0 }, '`temperature` must be > 0; given 0'],
    ['temperature', { temperature: -0.5 }, '`temperature` must be > 0; given -0.5'],
    ['top_k', { top_k: 0 }, '`top_k` must be >= 1; given 0'],
    ['top_k', { top_k: 5, min_tokens_to_keep: 0 }, '`min_tokens_to_keep` must be >= 1; given 0'],
    ['min_p', { min_p: 1.5 }, '`min_p` must be in [0, 1]; given 1.5'],
    ['typical_p', { typical_p: 1 }, '`typical_p` must be in (0, 1); given 1'],
    ['epsilon_cutoff', { epsilon_cutoff: 1 }, '`epsilon_cutoff` must be in (0, 1); given 1'],
    ['eta_cutoff', { eta_cutoff: 0 }, '`eta_cutoff` must be in (0, 1); given 0'],
    ['repetition_penalty', { repetition_penalty: 0 }, '`repetition_penalty` must be > 0; given 0'],
    ['encoder_repetition_penalty', { encoder_repetition_penalty: -1 }, '`encoder_repetition_penalty` must be > 0; given -1'],
    ['no_repeat_ngram_size', { no_repeat_ngram_size: 0 }, '`no_repeat_ngram_size` must be >= 1; given 0'],
    ['min_length', { min_length: -1 }, '`min_length` must be >= 0; given -1'],
    ['min_new_tokens', { min_new_tokens: -2 }, '`min_new_tokens` must be >= 0; given -2'],
    ['exponential_decay_length_penalty', { start_index: 2, decay_factor: 0 }, '`decay_factor` must be > 0; given 0'],
  ])('%s %j is refused: %s', (name, params, message) => {
    const error = rejection(name, params);
    expect(error.detail).toContain(message);
    expect(error.processor).toBe(name);
    expect(error.message).toContain(`processor \`${name}\``);
  });

  it('a refusal stricter than Hugging Face says why (top_p > 1 is silently ignored there)', () => {
    expect(rejection('top_p', { top_p: 1.5 }).detail).toContain('Hugging Face ignores top_p > 1');
  });

  it('names the parameter of the refusal', () => {
    expect(rejection('top_k', { top_k: 5, min_tokens_to_keep: 0 }).parameter).toBe('min_tokens_to_keep');
  });
});

describe('token ids must fit the vocabulary', () => {
  it.each([
    ['suppress_tokens', { suppress_tokens: [2, 6] }, '`suppress_tokens[1]` must be a token id in [0, 6); given 6'],
    ['ban_tokens', { token_ids: [-1] }, '`token_ids[0]` must be a token id in [0, 6); given -1'],
    ['allow_tokens', { token_ids: [9] }, '`token_ids[0]` must be a token id in [0, 6); given 9'],
    ['bad_words_ids', { bad_words_ids: [[3, 7]] }, '`bad_words_ids[0][1]` must be a token id in [0, 6); given 7'],
    ['sequence_bias', { sequence_bias: [[[3, 70], 1.5]] }, '`sequence_bias[0][0][1]` must be a token id in [0, 6); given 70'],
    ['forced_bos_token_id', { forced_bos_token_id: 6 }, '`forced_bos_token_id` must be a token id in [0, 6); given 6'],
    ['force_token_at', { schedule: [[0, 6]] }, '`schedule[0][1]` must be a token id in [0, 6); given 6'],
  ])('%s %j is refused: %s', (name, params, message) => {
    expect(rejection(name, params).detail).toContain(message);
  });
});

describe('values Hugging Face silently drops are refused with the reason', () => {
  it('bad_words_ids [[EOS]] (Hugging Face drops it: EOS cannot be banned this way)', () => {
    expect(rejection('bad_words_ids', { bad_words_ids: [[3], [1]] }).detail).toContain(
      '`bad_words_ids[1]` is the EOS token 1 alone',
    );
  });

  it('sequence_bias giving one sequence twice (Hugging Face keeps the last bias only)', () => {
    expect(rejection('sequence_bias', { sequence_bias: [[[3], 1.5], [[3], -2.5]] }).detail).toContain(
      'repeats the sequence [3]',
    );
  });

  it('empty token lists', () => {
    expect(rejection('suppress_tokens', { suppress_tokens: [] }).detail).toBe('`suppress_tokens` must not be empty');
    expect(rejection('bad_words_ids', { bad_words_ids: [[3], []] }).detail).toBe('`bad_words_ids[1]` must not be empty');
  });
});

describe('kinds: a float parameter accepts an int value, an int parameter refuses a float', () => {
  it('repetition_penalty 2 (an int value) is accepted as 2.0', () => {
    expect(validate('repetition_penalty', { repetition_penalty: 2 })).toEqual({ repetition_penalty: 2 });
  });

  it('top_k 50.0 sent as a float value is refused', () => {
    const error = rejection('top_k', { top_k: { kind: 'float', value: 50 } }, true);
    expect(error.detail).toBe('`top_k` must be an integer (an int value, not a float); given the float 50');
  });

  it('an int value arriving as a bigint (proto sint64) is accepted when it is a safe integer', () => {
    expect(registry.get('top_k').validate({ top_k: intParam(40n) }, context)).toEqual({ top_k: 40, min_tokens_to_keep: 1 });
    const error = rejection('top_k', { top_k: intParam(2n ** 60n) }, true);
    expect(error.detail).toContain('`top_k` must be an integer within');
  });

  it('a string where a number is expected is refused with its kind', () => {
    expect(rejection('temperature', { temperature: 'hot' }).detail).toBe('`temperature` must be a number; given the string "hot"');
  });

  it('a non-finite float is refused', () => {
    expect(rejection('temperature', { temperature: { kind: 'float', value: Number.NaN } }, true).detail).toBe(
      '`temperature` must be a finite number; given NaN',
    );
  });

  it('a malformed sequence_bias pair is refused with the expected shape', () => {
    expect(rejection('sequence_bias', { sequence_bias: [[[3], 1.5, 2]] }).detail).toContain(
      '`sequence_bias[0]` must be a pair [list of token ids, bias]',
    );
  });
});

describe('names: unknown parameters, missing ones, unknown processors', () => {
  it('an unknown parameter lists the expected ones', () => {
    expect(rejection('top_p', { top_p: 0.9, topp: 1 }).detail).toBe(
      'unknown parameter `topp`; expected one of: `top_p`, `min_tokens_to_keep`',
    );
  });

  it('a processor without parameters says so', () => {
    expect(rejection('renormalize_logits', { dim: 1 }).detail).toBe('takes no parameters; given `dim`');
  });

  it('a missing required parameter is named with its type', () => {
    expect(rejection('top_p', {}).detail).toBe('`top_p` is required (a number)');
  });

  it('defaults fill in what was not given', () => {
    expect(validate('top_p', { top_p: 0.9 })).toEqual({ top_p: 0.9, min_tokens_to_keep: 1 });
  });

  it('an unknown processor is refused with the registered names', () => {
    expect(() => registry.get('top_q')).toThrow(UnknownProcessorError);
    expect(() => registry.get('top_q')).toThrow(/unknown processor `top_q`; registered processors: .*top_p/);
  });

  it('force_token_at takes either step + token_id or a schedule', () => {
    expect(rejection('force_token_at', { step: 2 }).detail).toBe('`token_id` is required with `step`');
    expect(rejection('force_token_at', {}).detail).toBe('give `step` with `token_id`, or `schedule`');
    expect(rejection('force_token_at', { step: 0, token_id: 3, schedule: [[1, 4]] }).detail).toBe(
      'give either `step` with `token_id`, or `schedule`, not both',
    );
    expect(rejection('force_token_at', { schedule: [[1, 4], [1, 5]] }).detail).toBe('`schedule[1]` schedules step 1 a second time');
  });
});

describe('ListProcessors descriptions come from the same schemas', () => {
  it('top_p describes its range, default and requirement', () => {
    expect(registry.get('top_p').parameters).toEqual([
      expect.objectContaining({ name: 'top_p', type: 'float', required: true, range: '(0, 1]', defaultValue: '' }),
      expect.objectContaining({ name: 'min_tokens_to_keep', type: 'int', required: false, range: '>= 1', defaultValue: '1' }),
    ]);
  });

  it('token-id lists describe their length and their element range', () => {
    expect(registry.get('suppress_tokens').parameters[0]).toEqual(
      expect.objectContaining({ type: 'int_list', range: 'at most 32,768 ids; each [0, vocab_size)' }),
    );
  });

  it('every built-in has a description and described parameters', () => {
    for (const definition of registry.list()) {
      expect(definition.description.length).toBeGreaterThan(20);
      for (const parameter of definition.parameters) expect(parameter.description.length).toBeGreaterThan(5);
    }
  });
});

/**
 * The Hugging Face `generation_config` shortcut builds the pipeline in `_get_logits_processor`'s order with
 * its triggers and defaults (processors.md §1a), and refuses what Hugging Face would ignore.
 */
import { describe, expect, it } from 'vitest';
import { ProcessorParameterError } from '../../../src/processors/errors.js';
import { buildHfPipeline, hfGenerationPipeline, type HfGenerationSettings } from '../../../src/processors/hf-generation-config.js';
import { processorSpec } from '../../../src/processors/param-values.js';
import { formatParamValue } from '../../../src/processors/parameters.js';
import type { ProcessorSpec } from '../../../src/processors/types.js';
import { registry, SECTION_6_2, staticContext, stepAt, survivors } from './test-context.js';

const plan = (settings: HfGenerationSettings, options: { sampling?: boolean; custom?: ProcessorSpec[]; decoderPromptLength?: number } = {}) =>
  hfGenerationPipeline(settings, { decoderPromptLength: 1, ...options });
const names = (settings: HfGenerationSettings, options = {}) => plan(settings, options).specs.map((spec) => spec.name);
/** One spec's parameters as text, e.g. "top_k=50". */
const paramsOf = (spec: ProcessorSpec) =>
  Object.entries(spec.params)
    .map(([name, value]) => `${name}=${formatParamValue(value)}`)
    .join(' ');

describe('order and triggers', () => {
  it('every setting at once comes out in Hugging Face`s order, renormalize last', () => {
    const everything: HfGenerationSettings = {
      doSample: true,
      renormalizeLogits: true,
      etaCutoff: 0.1,
      epsilonCutoff: 0.05,
      typicalP: 0.9,
      minP: 0.05,
      topP: 0.9,
      topK: 20,
      temperature: 0.7,
      beginSuppressTokens: [3],
      suppressTokens: [2],
      exponentialDecayLengthPenalty: { startIndex: 5, decayFactor: 1.1 },
      removeInvalidValues: true,
      forcedEosTokenId: 1,
      forcedBosTokenId: 4,
      minNewTokens: 2,
      badWordsIds: [[5]],
      encoderNoRepeatNgramSize: 2,
      noRepeatNgramSize: 3,
      repetitionPenalty: 1.2,
      encoderRepetitionPenalty: 1.1,
      sequenceBias: [{ tokenIds: [3], bias: 0.5 }],
    };
    expect(names(everything)).toEqual([
      'sequence_bias',
      'encoder_repetition_penalty',
      'repetition_penalty',
      'no_repeat_ngram_size',
      'encoder_no_repeat_ngram_size',
      'bad_words_ids',
      'min_length',
      'min_new_tokens',
      'forced_bos_token_id',
      'forced_eos_token_id',
      'remove_invalid_values',
      'exponential_decay_length_penalty',
      'suppress_tokens',
      'begin_suppress_tokens',
      'temperature',
      'top_k',
      'top_p',
      'min_p',
      'typical_p',
      'epsilon_cutoff',
      'eta_cutoff',
      'renormalize_logits',
    ]);
  });

  it('do_sample alone still means top-k 50', () => {
    const { specs, sampling } = plan({ doSample: true });
    expect(sampling).toBe(true);
    expect(specs.map(paramsOf)).toEqual(['top_k=50']);
    expect(specs[0]!.name).toBe('top_k');
  });

  it('top_k = 0 disables top-k; neutral values add nothing', () => {
    expect(names({ doSample: true, topK: 0, temperature: 1, topP: 1, typicalP: 1, epsilonCutoff: 0, etaCutoff: 0 })).toEqual([]);
    expect(names({ repetitionPenalty: 1, encoderRepetitionPenalty: 1, noRepeatNgramSize: 0, minLength: 0, badWordsIds: [] })).toEqual([]);
  });

  it('greedy selection adds no warper', () => {
    expect(plan({ repetitionPenalty: 1.3, topK: 50, temperature: 1 })).toEqual({
      specs: [processorSpec('repetition_penalty', { repetition_penalty: 1.3 })],
      sampling: false,
    });
  });

  it('sampling chosen by the selection, not do_sample, adds the warpers too', () => {
    expect(names({ temperature: 0.8 }, { sampling: true })).toEqual(['temperature', 'top_k']);
  });

  it('min_new_tokens also sets min_length = min_new_tokens + prompt length, as Hugging Face does', () => {
    const { specs } = plan({ minNewTokens: 2 }, { decoderPromptLength: 3 });
    expect(specs.map((spec) => `${spec.name}: ${paramsOf(spec)}`)).toEqual(['min_length: min_length=5', 'min_new_tokens: min_new_tokens=2']);
  });

  it('begin_suppress_tokens starts one token later when a forced BOS takes the first position', () => {
    const beginIndex = (settings: HfGenerationSettings) =>
      paramsOf(plan(settings).specs.find((spec) => spec.name === 'begin_suppress_tokens')!);
    expect(beginIndex({ beginSuppressTokens: [3] })).toBe('begin_suppress_tokens=[3] begin_index=1');
    expect(beginIndex({ beginSuppressTokens: [3], forcedBosTokenId: 4 })).toBe('begin_suppress_tokens=[3] begin_index=2');
  });

  it('custom processors go after the masks and before the warpers; one named like a generated one takes its slot', () => {
    const custom = [processorSpec('ban_tokens', { token_ids: [5] }), processorSpec('top_k', { top_k: 7 })];
    const { specs } = plan({ doSample: true, temperature: 0.7, repetitionPenalty: 1.2 }, { custom });
    expect(specs.map((spec) => `${spec.name} ${paramsOf(spec)}`)).toEqual([
      'repetition_penalty repetition_penalty=1.2',
      'ban_tokens token_ids=[5]',
      'temperature temperature=0.7',
      'top_k top_k=7',
    ]);
  });
});

describe('refusals', () => {
  function refusal(settings: HfGenerationSettings, options = {}): ProcessorParameterError {
    try {
      buildHfPipeline(registry, settings, staticContext(), options);
    } catch (error) {
      expect(error).toBeInstanceOf(ProcessorParameterError);
      return error as ProcessorParameterError;
    }
    throw new Error(`accepted ${JSON.stringify(settings)}`);
  }

  it('a sampling setting with greedy selection (Hugging Face ignores it with a warning)', () => {
    const error = refusal({ temperature: 0.7 });
    expect(error.parameter).toBe('temperature');
    expect(error.detail).toBe(
      '`temperature` is 0.7 but tokens are selected greedily, where Hugging Face ignores it (with a warning); ' +
        'set `do_sample` (or sampling selection), or leave it out',
    );
    expect(refusal({ topK: 10 }).parameter).toBe('top_k');
    expect(refusal({ minP: 0.1 }).parameter).toBe('min_p');
  });

  it('values Hugging Face silently ignores reach their processor and are refused there', () => {
    expect(refusal({ doSample: true, topP: 1.5 }).detail).toContain('`top_p` must be in (0, 1]; given 1.5');
    expect(refusal({ doSample: true, typicalP: 1.5 }).detail).toContain('`typical_p` must be in (0, 1); given 1.5');
    expect(refusal({ doSample: true, epsilonCutoff: 1 }).detail).toContain('`epsilon_cutoff` must be in (0, 1); given 1');
    expect(refusal({ noRepeatNgramSize: -1 }).detail).toContain('`no_repeat_ngram_size` must be >= 1; given -1');
  });

  it('values Hugging Face rejects are rejected', () => {
    expect(refusal({ doSample: true, temperature: 0 }).detail).toContain('`temperature` must be > 0; given 0');
    expect(refusal({ repetitionPenalty: -1 }).detail).toContain('`repetition_penalty` must be > 0');
    expect(refusal({ doSample: true, topK: -3 }).detail).toContain('`top_k` must be >= 1; given -3');
  });

  it('min_length together with min_new_tokens', () => {
    expect(refusal({ minLength: 3, minNewTokens: 2 }).parameter).toBe('min_length');
  });
});

describe('the built pipeline', () => {
  it('T = 0.5, top_k = 3, top_p = 0.75 on §6.2 keeps {2, 4}, as processors.md §6.5 works out', () => {
    const { pipeline, sampling } = buildHfPipeline(
      registry,
      { doSample: true, temperature: 0.5, topK: 3, topP: 0.75 },
      staticContext(),
    );
    expect(sampling).toBe(true);
    const row = Float32Array.from(SECTION_6_2);
    pipeline.run(row, stepAt([0]));
    expect(survivors(row)).toEqual([2, 4]);
  });
});

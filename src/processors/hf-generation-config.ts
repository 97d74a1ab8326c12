/**
 * The Hugging Face `generation_config` shortcut: settings such as `temperature`, `top_k`, `top_p`,
 * `repetition_penalty`, `do_sample` become a pipeline in the order and with the triggers of Hugging Face's
 * `_get_logits_processor` (processors.md §1a), including its defaults — `do_sample` alone still applies
 * top-k 50 — and its rule that the warpers (temperature … eta_cutoff) run only when sampling.
 *
 * Where Hugging Face silently ignores a value (top_p > 1, typical_p > 1, epsilon_cutoff >= 1, negative
 * n-gram sizes or lengths) the value still reaches its processor, which refuses it with the reason. Where it
 * only warns — a sampling setting with greedy selection, or `min_length` together with `min_new_tokens` —
 * the request is refused too: whoever asked for it expected an effect it would not have.
 *
 * Usage:
 * ```ts
 * const { specs, sampling } = hfGenerationPipeline({ doSample: true, temperature: 0.7 }, { decoderPromptLength: 1 });
 * // specs: temperature 0.7, then top_k 50; sampling: true
 * const { pipeline } = buildHfPipeline(registry, { doSample: true, temperature: 0.7 }, staticContext);
 * ```
 */
import { ProcessorParameterError } from './errors.js';
import { floatParam, intListParam, intParam, listParam } from './param-values.js';
import { Pipeline, type ProcessorLookup } from './pipeline.js';
import type { SequenceBiasEntry } from './parameters.js';
import type { ParamValue, ProcessorSpec, StaticContext } from './types.js';

/**
 * Hugging Face `GenerationConfig` fields that build processors, in the camelCase of the generated proto
 * types. `undefined` means unset; an empty list counts as unset too (proto3 cannot tell them apart).
 */
export interface HfGenerationSettings {
  readonly doSample?: boolean | undefined;
  readonly temperature?: number | undefined;
  readonly topK?: number | undefined;
  readonly topP?: number | undefined;
  readonly minP?: number | undefined;
  readonly typicalP?: number | undefined;
  readonly epsilonCutoff?: number | undefined;
  readonly etaCutoff?: number | undefined;
  readonly repetitionPenalty?: number | undefined;
  readonly encoderRepetitionPenalty?: number | undefined;
  readonly noRepeatNgramSize?: number | undefined;
  readonly encoderNoRepeatNgramSize?: number | undefined;
  readonly badWordsIds?: readonly (readonly number[])[] | undefined;
  readonly sequenceBias?: readonly SequenceBiasEntry[] | undefined;
  readonly minLength?: number | undefined;
  readonly minNewTokens?: number | undefined;
  readonly forcedBosTokenId?: number | undefined;
  readonly forcedEosTokenId?: number | undefined;
  readonly removeInvalidValues?: boolean | undefined;
  readonly exponentialDecayLengthPenalty?: { readonly startIndex: number; readonly decayFactor: number } | undefined;
  readonly suppressTokens?: readonly number[] | undefined;
  readonly beginSuppressTokens?: readonly number[] | undefined;
  readonly renormalizeLogits?: boolean | undefined;
}

export interface HfPipelineOptions {
  /** Decoder prompt length (1 = only the start token): Hugging Face's `input_ids_seq_length`. */
  readonly decoderPromptLength: number;
  /** Whether tokens are sampled (the warpers are added only then); defaults to `doSample`. */
  readonly sampling?: boolean | undefined;
  /**
   * The client's own processors, merged as Hugging Face merges a custom `logits_processor` list: one whose
   * name a generated processor has takes that processor's slot; the others go after the penalties and masks,
   * before the warpers.
   */
  readonly custom?: readonly ProcessorSpec[] | undefined;
}

export interface HfPipelinePlan {
  readonly specs: ProcessorSpec[];
  readonly sampling: boolean;
}

/** Hugging Face's defaults for the sampling settings; a different value with greedy selection is refused. */
const SAMPLING_DEFAULTS = {
  temperature: 1,
  topK: 50,
  topP: 1,
  minP: undefined,
  typicalP: 1,
  epsilonCutoff: 0,
  etaCutoff: 0,
} as const;

const FIELD_NAMES: Record<keyof HfGenerationSettings, string> = {
  doSample: 'do_sample',
  temperature: 'temperature',
  topK: 'top_k',
  topP: 'top_p',
  minP: 'min_p',
  typicalP: 'typical_p',
  epsilonCutoff: 'epsilon_cutoff',
  etaCutoff: 'eta_cutoff',
  repetitionPenalty: 'repetition_penalty',
  encoderRepetitionPenalty: 'encoder_repetition_penalty',
  noRepeatNgramSize: 'no_repeat_ngram_size',
  encoderNoRepeatNgramSize: 'encoder_no_repeat_ngram_size',
  badWordsIds: 'bad_words_ids',
  sequenceBias: 'sequence_bias',
  minLength: 'min_length',
  minNewTokens: 'min_new_tokens',
  forcedBosTokenId: 'forced_bos_token_id',
  forcedEosTokenId: 'forced_eos_token_id',
  removeInvalidValues: 'remove_invalid_values',
  exponentialDecayLengthPenalty: 'exponential_decay_length_penalty',
  suppressTokens: 'suppress_tokens',
  beginSuppressTokens: 'begin_suppress_tokens',
  renormalizeLogits: 'renormalize_logits',
};

/** The processor specs Hugging Face's `generate()` would build from `settings`, in its order. */
export function hfGenerationPipeline(settings: HfGenerationSettings, options: HfPipelineOptions): HfPipelinePlan {
  const sampling = options.sampling ?? settings.doSample ?? false;
  if (!sampling) refuseSamplingSettings(settings);
  if (isSet(settings.minLength) && isSet(settings.minNewTokens)) {
    throw new ProcessorParameterError(
      'generation_config',
      'min_length',
      'give `min_length` or `min_new_tokens`, not both: Hugging Face overrides `min_length` with ' +
        '`min_new_tokens` plus the prompt length',
    );
  }
  const promptLength = options.decoderPromptLength;
  const s = settings;
  const masks: ProcessorSpec[] = [];
  const add = (list: ProcessorSpec[], when: boolean, name: string, params: Record<string, ParamValue>): void => {
    if (when) list.push({ name, params });
  };

  add(masks, nonEmpty(s.sequenceBias), 'sequence_bias', {
    sequence_bias: listParam((s.sequenceBias ?? []).map((entry) => listParam([intListParam(entry.tokenIds), floatParam(entry.bias)]))),
  });
  add(masks, differs(s.encoderRepetitionPenalty, 1), 'encoder_repetition_penalty', {
    encoder_repetition_penalty: floatParam(s.encoderRepetitionPenalty!),
  });
  add(masks, differs(s.repetitionPenalty, 1), 'repetition_penalty', { repetition_penalty: floatParam(s.repetitionPenalty!) });
  add(masks, differs(s.noRepeatNgramSize, 0), 'no_repeat_ngram_size', { no_repeat_ngram_size: intParam(s.noRepeatNgramSize!) });
  add(masks, differs(s.encoderNoRepeatNgramSize, 0), 'encoder_no_repeat_ngram_size', {
    encoder_no_repeat_ngram_size: intParam(s.encoderNoRepeatNgramSize!),
  });
  add(masks, nonEmpty(s.badWordsIds), 'bad_words_ids', { bad_words_ids: listParam((s.badWordsIds ?? []).map(intListParam)) });
  // Hugging Face turns `min_new_tokens` into `min_length = min_new_tokens + prompt length` and adds both processors.
  const minLength = isSet(s.minNewTokens) ? s.minNewTokens + promptLength : s.minLength;
  add(masks, differs(minLength, 0), 'min_length', { min_length: intParam(minLength!) });
  add(masks, differs(s.minNewTokens, 0), 'min_new_tokens', { min_new_tokens: intParam(s.minNewTokens!) });
  add(masks, isSet(s.forcedBosTokenId), 'forced_bos_token_id', { forced_bos_token_id: intParam(s.forcedBosTokenId!) });
  add(masks, isSet(s.forcedEosTokenId), 'forced_eos_token_id', { forced_eos_token_id: intParam(s.forcedEosTokenId!) });
  add(masks, s.removeInvalidValues === true, 'remove_invalid_values', {});
  add(masks, isSet(s.exponentialDecayLengthPenalty), 'exponential_decay_length_penalty', {
    start_index: intParam(s.exponentialDecayLengthPenalty?.startIndex ?? 0),
    decay_factor: floatParam(s.exponentialDecayLengthPenalty?.decayFactor ?? 1),
  });
  add(masks, nonEmpty(s.suppressTokens), 'suppress_tokens', { suppress_tokens: intListParam(s.suppressTokens ?? []) });
  // The first generated token moves one later when a forced BOS takes the first position.
  const beginIndex = promptLength + (promptLength === 1 && isSet(s.forcedBosTokenId) ? 1 : 0);
  add(masks, nonEmpty(s.beginSuppressTokens), 'begin_suppress_tokens', {
    begin_suppress_tokens: intListParam(s.beginSuppressTokens ?? []),
    begin_index: intParam(beginIndex),
  });

  const warpers: ProcessorSpec[] = [];
  if (sampling) {
    const topK = s.topK ?? SAMPLING_DEFAULTS.topK;
    add(warpers, differs(s.temperature, 1), 'temperature', { temperature: floatParam(s.temperature!) });
    add(warpers, topK !== 0, 'top_k', { top_k: intParam(topK) });
    add(warpers, differs(s.topP, 1), 'top_p', { top_p: floatParam(s.topP!) });
    add(warpers, isSet(s.minP), 'min_p', { min_p: floatParam(s.minP!) });
    add(warpers, differs(s.typicalP, 1), 'typical_p', { typical_p: floatParam(s.typicalP!) });
    add(warpers, differs(s.epsilonCutoff, 0), 'epsilon_cutoff', { epsilon_cutoff: floatParam(s.epsilonCutoff!) });
    add(warpers, differs(s.etaCutoff, 0), 'eta_cutoff', { eta_cutoff: floatParam(s.etaCutoff!) });
  }
  const last: ProcessorSpec[] = [];
  add(last, s.renormalizeLogits === true, 'renormalize_logits', {});

  const generated = [...masks, ...warpers, ...last];
  const custom = options.custom ?? [];
  const replacing = new Map(custom.filter((spec) => generated.some((g) => g.name === spec.name)).map((spec) => [spec.name, spec]));
  const slotted = (list: ProcessorSpec[]): ProcessorSpec[] => list.map((spec) => replacing.get(spec.name) ?? spec);
  const inserted = custom.filter((spec) => !replacing.has(spec.name));
  return { specs: [...slotted(masks), ...inserted, ...slotted(warpers), ...slotted(last)], sampling };
}

/** Keys of a `generation_config.json` that describe the file, not the generation. */
const BOOKKEEPING_KEYS = new Set(['transformers_version', '_from_model_config']);

/** How each `generation_config.json` key that builds processors is read. */
const JSON_READERS: { readonly [key: string]: (value: unknown, key: string) => Partial<HfGenerationSettings> } = {
  do_sample: (value, key) => ({ doSample: jsonBoolean(value, key) }),
  temperature: (value, key) => ({ temperature: jsonNumber(value, key) }),
  top_k: (value, key) => ({ topK: jsonInteger(value, key) }),
  top_p: (value, key) => ({ topP: jsonNumber(value, key) }),
  min_p: (value, key) => ({ minP: jsonNumber(value, key) }),
  typical_p: (value, key) => ({ typicalP: jsonNumber(value, key) }),
  epsilon_cutoff: (value, key) => ({ epsilonCutoff: jsonNumber(value, key) }),
  eta_cutoff: (value, key) => ({ etaCutoff: jsonNumber(value, key) }),
  repetition_penalty: (value, key) => ({ repetitionPenalty: jsonNumber(value, key) }),
  encoder_repetition_penalty: (value, key) => ({ encoderRepetitionPenalty: jsonNumber(value, key) }),
  no_repeat_ngram_size: (value, key) => ({ noRepeatNgramSize: jsonInteger(value, key) }),
  encoder_no_repeat_ngram_size: (value, key) => ({ encoderNoRepeatNgramSize: jsonInteger(value, key) }),
  bad_words_ids: (value, key) => ({ badWordsIds: jsonList(value, key).map((words, i) => jsonIntegers(words, `${key}[${i}]`)) }),
  min_length: (value, key) => ({ minLength: jsonInteger(value, key) }),
  min_new_tokens: (value, key) => ({ minNewTokens: jsonInteger(value, key) }),
  forced_bos_token_id: (value, key) => ({ forcedBosTokenId: jsonInteger(value, key) }),
  forced_eos_token_id: (value, key) => ({ forcedEosTokenId: jsonInteger(value, key) }),
  remove_invalid_values: (value, key) => ({ removeInvalidValues: jsonBoolean(value, key) }),
  exponential_decay_length_penalty: (value, key) => {
    const pair = jsonList(value, key);
    if (pair.length !== 2) throw jsonTypeError(key, 'a [start_index, decay_factor] pair', value);
    return { exponentialDecayLengthPenalty: { startIndex: jsonInteger(pair[0], `${key}[0]`), decayFactor: jsonNumber(pair[1], `${key}[1]`) } };
  },
  suppress_tokens: (value, key) => ({ suppressTokens: jsonIntegers(value, key) }),
  begin_suppress_tokens: (value, key) => ({ beginSuppressTokens: jsonIntegers(value, key) }),
  renormalize_logits: (value, key) => ({ renormalizeLogits: jsonBoolean(value, key) }),
};

/**
 * The processor settings of a Hugging Face `generation_config.json` (snake_case keys, JSON values; `null`
 * counts as unset), and the keys it holds that build no processor here (`num_beams`, say), for the caller
 * to report. Throws `ProcessorParameterError` (processor `generation_config`) for a value of the wrong type;
 * ranges are checked when the pipeline is built, as for a request's `generation_config`.
 */
export function hfSettingsFromJson(json: Readonly<Record<string, unknown>>): { settings: HfGenerationSettings; unused: string[] } {
  let settings: HfGenerationSettings = {};
  const unused: string[] = [];
  for (const [key, value] of Object.entries(json)) {
    if (value === null || BOOKKEEPING_KEYS.has(key)) continue;
    const read = JSON_READERS[key];
    if (read === undefined) unused.push(key);
    else settings = { ...settings, ...read(value, key) };
  }
  return { settings, unused };
}

/** The sampling settings of `settings` left out: what Hugging Face ignores when it decodes greedily. */
export function withoutSamplingSettings(settings: HfGenerationSettings): HfGenerationSettings {
  const kept: Record<string, unknown> = { ...settings };
  for (const field of Object.keys(SAMPLING_DEFAULTS)) delete kept[field];
  delete kept.doSample;
  return kept as HfGenerationSettings;
}

function jsonTypeError(key: string, expected: string, value: unknown): ProcessorParameterError {
  return new ProcessorParameterError('generation_config', key, `\`${key}\` must be ${expected}; found ${JSON.stringify(value)}`);
}

function jsonBoolean(value: unknown, key: string): boolean {
  if (typeof value !== 'boolean') throw jsonTypeError(key, 'true or false', value);
  return value;
}

function jsonNumber(value: unknown, key: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw jsonTypeError(key, 'a number', value);
  return value;
}

function jsonInteger(value: unknown, key: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw jsonTypeError(key, 'an integer', value);
  return value;
}

function jsonList(value: unknown, key: string): unknown[] {
  if (!Array.isArray(value)) throw jsonTypeError(key, 'a list', value);
  return value;
}

function jsonIntegers(value: unknown, key: string): number[] {
  return jsonList(value, key).map((item, i) => jsonInteger(item, `${key}[${i}]`));
}

/** `hfGenerationPipeline` followed by `Pipeline.build` (prompt length taken from the stream's context). */
export function buildHfPipeline(
  registry: ProcessorLookup,
  settings: HfGenerationSettings,
  context: StaticContext,
  options: Omit<HfPipelineOptions, 'decoderPromptLength'> = {},
): { readonly pipeline: Pipeline; readonly sampling: boolean } {
  const plan = hfGenerationPipeline(settings, { ...options, decoderPromptLength: context.decoderPromptLength });
  return { pipeline: Pipeline.build(registry, plan.specs, context), sampling: plan.sampling };
}

function refuseSamplingSettings(settings: HfGenerationSettings): void {
  for (const field of Object.keys(SAMPLING_DEFAULTS) as (keyof typeof SAMPLING_DEFAULTS)[]) {
    const value = settings[field];
    if (value !== undefined && value !== SAMPLING_DEFAULTS[field]) {
      throw new ProcessorParameterError(
        'generation_config',
        FIELD_NAMES[field],
        `\`${FIELD_NAMES[field]}\` is ${value} but tokens are selected greedily, where Hugging Face ignores it ` +
          '(with a warning); set `do_sample` (or sampling selection), or leave it out',
      );
    }
  }
}

function isSet<T>(value: T | undefined): value is T {
  return value !== undefined;
}

/** Set and different from Hugging Face's "does nothing" value. */
function differs(value: number | undefined, neutral: number): boolean {
  return value !== undefined && value !== neutral;
}

function nonEmpty(list: readonly unknown[] | undefined): boolean {
  return list !== undefined && list.length > 0;
}

/**
 * The pipeline a stream runs, from its `Start`, with the request field each processor came from (for
 * errors):
 *
 * - `generation_config` given: Hugging Face's pipeline built from it (`hfGenerationPipeline`: its order,
 *   its defaults, `min_new_tokens` included), with `processors`, if any, merged where Hugging Face merges a
 *   custom `logits_processor` list;
 * - else `processors` given: exactly those, in their order, nothing added or moved (the `min_new_tokens`
 *   processor first when `min_new_tokens` is set);
 * - else the model folder's `generation_config.json`, as if the request had sent it (its sampling
 *   settings left out when selection is greedy, where Hugging Face ignores them).
 */
import type { GenerationConfig } from '../gen/stepwise/v1/stepwise.js';
import {
  hfGenerationPipeline,
  intParam,
  namingField,
  ProcessorParameterError,
  withoutSamplingSettings,
  type HfGenerationSettings,
  type ProcessorSpec,
} from '../processors/index.js';
import type { ModelDefaults } from './model-defaults.js';
import type { ResolvedStart } from './start-request.js';

export interface RequestedPipeline {
  readonly specs: ProcessorSpec[];
  /** `fields[i]` names the request field spec i came from. */
  readonly fields: string[];
  /** Whether the pipeline came from the model folder's `generation_config.json`. */
  readonly fromModel: boolean;
}

export function requestedPipeline(resolved: ResolvedStart, defaults: ModelDefaults): RequestedPipeline {
  const { processors, generationConfig, minNewTokens } = resolved;
  if (generationConfig === undefined && processors.length > 0) {
    const first: ProcessorSpec[] = minNewTokens > 0 ? [{ name: 'min_new_tokens', params: { min_new_tokens: intParam(minNewTokens) } }] : [];
    return {
      specs: [...first, ...processors],
      fields: [...first.map(() => 'min_new_tokens'), ...processors.map((_, i) => `processors[${i}]`)],
      fromModel: false,
    };
  }
  const sampling = resolved.selection.mode === 'sample';
  const fromModel = generationConfig === undefined;
  const base = fromModel ? (sampling ? defaults.settings : withoutSamplingSettings(defaults.settings)) : wireSettings(generationConfig);
  // The request's `min_new_tokens` overrides the file's `min_length`, as in Hugging Face.
  const settings: HfGenerationSettings = { ...base, ...(minNewTokens > 0 && { minNewTokens, ...(fromModel && { minLength: undefined }) }) };
  const source = fromModel ? "the model's generation_config.json" : 'generation_config';
  const plan = namingField(
    () => hfGenerationPipeline(settings, { decoderPromptLength: 1 + resolved.plan.decoderPrefix.length, sampling, custom: processors }),
    (error) => settingField(error, source, minNewTokens),
  );
  const fields = plan.specs.map((spec) => {
    const index = processors.findIndex((own) => own.name === spec.name);
    if (index !== -1) return `processors[${index}]`;
    if (minNewTokens > 0 && (spec.name === 'min_new_tokens' || spec.name === 'min_length')) return 'min_new_tokens';
    return fromModel ? `${source}: ${spec.name}` : `generation_config.${spec.name}`;
  });
  return { specs: plan.specs, fields, fromModel };
}

/** The request field a generation-config refusal names. */
function settingField(error: Error, source: string, minNewTokens: number): string {
  if (!(error instanceof ProcessorParameterError) || error.processor !== 'generation_config') return source;
  if (error.parameter === 'min_new_tokens' && minNewTokens > 0) return 'min_new_tokens';
  return source === 'generation_config' ? `generation_config.${error.parameter}` : `${source}: ${error.parameter}`;
}

/** The wire `GenerationConfig` as the processors module's settings. */
function wireSettings(config: GenerationConfig): HfGenerationSettings {
  return {
    doSample: config.doSample,
    temperature: config.temperature,
    topK: config.topK,
    topP: config.topP,
    minP: config.minP,
    typicalP: config.typicalP,
    epsilonCutoff: config.epsilonCutoff,
    etaCutoff: config.etaCutoff,
    repetitionPenalty: config.repetitionPenalty,
    encoderRepetitionPenalty: config.encoderRepetitionPenalty,
    noRepeatNgramSize: config.noRepeatNgramSize,
    encoderNoRepeatNgramSize: config.encoderNoRepeatNgramSize,
    badWordsIds: config.badWordsIds.map((words) => words.ids),
    sequenceBias: config.sequenceBias.map((entry) => ({ tokenIds: entry.tokenIds?.ids ?? [], bias: entry.bias })),
    minLength: config.minLength,
    forcedBosTokenId: config.forcedBosTokenId,
    forcedEosTokenId: config.forcedEosTokenId,
    removeInvalidValues: config.removeInvalidValues,
    exponentialDecayLengthPenalty: config.exponentialDecayLengthPenalty,
    suppressTokens: config.suppressTokens,
    beginSuppressTokens: config.beginSuppressTokens,
    renormalizeLogits: config.renormalizeLogits,
  };
}

/**
 * Validates a `Start` against the model and the server's limits and resolves it into a `DecodePlan`: the
 * checks happen once, here, before any model work, and each failure names the field, the allowed range
 * and the value given. Field names are relative to `Start` (the `start` of a `GenerateRequest`).
 */
import { randomBytes } from 'node:crypto';
import {
  DecodeMode,
  LogitsFormat,
  SelectionMode,
  type GenerationConfig,
  type Start,
} from '../gen/stepwise/v1/stepwise.js';
import { PROCESSOR_LIMITS, type ProcessorSpec } from '../processors/index.js';
import type { ModelRuntime } from '../runtime/types.js';
import { resolveBeamSearch } from './beam-request.js';
import type { DecodePlan, RawLogitsFormat, StreamPlan } from './decode-plan.js';
import { fromWireProcessorSpec } from './param-values.js';
import { requireInClosedRange, requireTokenIds, resolveRawLogitsFormat } from './request-checks.js';
import type { ModelDefaults } from './model-defaults.js';
import type { ServerLimits } from './server-limits.js';
import { invalidArgument } from './status.js';
import { tokenizeText } from './text-input.js';
import { StopConditions } from './stop-conditions.js';

/** Which RPC the `Start` came with: `Decode` defaults to LOCKSTEP, `Generate` is AUTO only. */
export type StartingRpc = 'decode' | 'generate';

/** A validated `Start`, before the pipeline's parameters are checked (that needs the processors). */
export interface ResolvedStart {
  readonly plan: DecodePlan;
  /** The processors the client named, in order. */
  readonly processors: readonly ProcessorSpec[];
  /** The `generation_config` shortcut, if any. */
  readonly generationConfig: GenerationConfig | undefined;
  readonly minNewTokens: number;
  readonly selection: { readonly mode: 'greedy' | 'sample'; readonly seed: bigint };
  /** The fields left unset that took the model folder's value (`Started.defaults_from_model`). */
  readonly defaultsFromModel: readonly string[];
}

export function resolveStart(
  start: Start,
  rpc: StartingRpc,
  model: Pick<ModelRuntime, 'info' | 'tokenizer'>,
  limits: ServerLimits,
  defaults: ModelDefaults,
): ResolvedStart {
  const { vocabSize } = model.info;
  const inputIds = resolveInput(start, model, limits);
  if (start.decoderPrefixIds.length > limits.maxNewTokens) {
    throw invalidArgument(
      `\`decoder_prefix_ids\` must hold at most ${limits.maxNewTokens} ids; given ${start.decoderPrefixIds.length}`,
    );
  }
  requireTokenIds('decoder_prefix_ids', start.decoderPrefixIds, vocabSize);
  const defaultsFromModel: string[] = [];
  const maxNewTokens = resolveMaxNewTokens(start, limits, defaults, defaultsFromModel);
  requireInClosedRange('min_new_tokens', start.minNewTokens, 0, maxNewTokens, ' (at most `max_new_tokens`)');
  const selection = resolveSelection(start, defaults, defaultsFromModel);
  const beams = resolveBeamSearch(start, { rpc, sampling: selection.mode === 'sample', limits, defaults, defaultsFromModel });
  return {
    plan: {
      inputIds,
      decoderPrefix: [...start.decoderPrefixIds],
      maxNewTokens,
      eosIds: new Set(model.info.generation.eosTokenIds),
      stop: resolveStopConditions(start, vocabSize, limits),
      stream: resolveStreamPlan(start, vocabSize, limits),
      mode: beams !== undefined ? 'auto' : resolveMode(start.mode, rpc),
      beams,
    },
    processors: resolveProcessors(start),
    generationConfig: start.generationConfig,
    minNewTokens: start.minNewTokens,
    selection,
    defaultsFromModel,
  };
}

function resolveStopConditions(start: Start, vocabSize: number, limits: ServerLimits): StopConditions {
  const stopCount = start.stopStrings.length + start.stopTokenSequences.length;
  if (stopCount > limits.maxStopSequences) {
    throw invalidArgument(
      `\`stop_strings\` and \`stop_token_sequences\` must hold at most ${limits.maxStopSequences} entries together; given ${stopCount}`,
    );
  }
  start.stopStrings.forEach((text, i) => {
    if (text.length === 0) throw invalidArgument(`\`stop_strings[${i}]\` must not be empty; given ""`);
    if (text.length > limits.maxStopStringLength) {
      throw invalidArgument(`\`stop_strings[${i}]\` must be at most ${limits.maxStopStringLength} characters long; given ${text.length}`);
    }
  });
  const stopSequences = start.stopTokenSequences.map((sequence, i) => {
    if (sequence.ids.length === 0) {
      throw invalidArgument(`\`stop_token_sequences[${i}].ids\` must hold at least one id; given 0`);
    }
    requireTokenIds(`stop_token_sequences[${i}].ids`, sequence.ids, vocabSize);
    return sequence.ids;
  });
  return new StopConditions(start.stopStrings, stopSequences);
}

/** The processors the client named, in order; each name once. */
function resolveProcessors(start: Start): ProcessorSpec[] {
  // Before the parameters are converted: a huge list is refused for the price of reading its length.
  const most = PROCESSOR_LIMITS.pipelineProcessors;
  if (start.processors.length > most) throw invalidArgument(`\`processors\` must hold at most ${most} processors; given ${start.processors.length}`);
  const processors = start.processors.map((spec, i) => fromWireProcessorSpec(spec, `processors[${i}]`));
  processors.forEach((spec, i) => {
    const first = processors.findIndex((other) => other.name === spec.name);
    if (first !== i) {
      throw invalidArgument(
        `\`processors[${i}].name\` must be unique in the pipeline; "${spec.name}" is also \`processors[${first}]\``,
      );
    }
  });
  return processors;
}

/**
 * `max_new_tokens`, or when it is 0 the model folder's limit (`ModelDefaults.maxNewTokens`) within the
 * server's, else the server's.
 */
function resolveMaxNewTokens(start: Start, limits: ServerLimits, defaults: ModelDefaults, defaultsFromModel: string[]): number {
  if (start.maxNewTokens !== 0) {
    requireInClosedRange('max_new_tokens', start.maxNewTokens, 1, limits.maxNewTokens, ' (0 means the limit)');
    return start.maxNewTokens;
  }
  const promptLength = 1 + start.decoderPrefixIds.length;
  const fromModel = defaults.maxNewTokens(promptLength);
  if (fromModel === undefined) return limits.maxNewTokens;
  if (fromModel < 1) {
    throw invalidArgument(
      `\`max_new_tokens\` must be set: it is 0 (the model's default), and the model's generation_config.json leaves no new token after a decoder prompt of ${promptLength} tokens`,
    );
  }
  defaultsFromModel.push('max_new_tokens');
  return Math.min(fromModel, limits.maxNewTokens);
}

function resolveInput(
  start: Start,
  model: Pick<ModelRuntime, 'info' | 'tokenizer'>,
  limits: ServerLimits,
): readonly number[] {
  const input = start.input;
  switch (input?.$case) {
    case 'text': {
      // An empty text is legal for T5: the tokenizer gives `</s>` alone, which the encoder takes.
      const ids = tokenizeText(model.tokenizer, input.value, 'text', limits);
      if (ids.length > limits.maxInputTokens) {
        throw invalidArgument(
          `\`text\` must encode to at most ${limits.maxInputTokens} tokens (\`max_input_tokens\`); given ${ids.length} tokens`,
        );
      }
      return ids;
    }
    case 'tokenIds': {
      const ids = input.value.ids;
      if (ids.length === 0) throw invalidArgument('`token_ids.ids` must hold at least one id; given 0');
      if (ids.length > limits.maxInputTokens) {
        throw invalidArgument(
          `\`token_ids.ids\` must hold at most ${limits.maxInputTokens} ids (\`max_input_tokens\`); given ${ids.length}`,
        );
      }
      requireTokenIds('token_ids.ids', ids, model.info.vocabSize);
      return [...ids];
    }
    case undefined:
      throw invalidArgument('`input` must be set (text or token_ids); given none');
  }
}

function resolveStreamPlan(start: Start, vocabSize: number, limits: ServerLimits): StreamPlan {
  const options = start.stream;
  const topN = options?.topNAlternatives ?? 0;
  requireInClosedRange('stream.top_n_alternatives', topN, 0, Math.min(limits.maxTopNAlternatives, vocabSize));
  return {
    rawLogits: resolveRawLogitsFormat(options?.rawLogits ?? LogitsFormat.LOGITS_FORMAT_UNSPECIFIED, options?.rawTopK ?? 0, vocabSize, 'stream.', { kind: 'float32' }),
    processedScores: options?.processedScores ?? false,
    topNAlternatives: topN,
    entropy: options?.entropy ?? false,
  };
}


function resolveMode(mode: DecodeMode, rpc: StartingRpc): 'lockstep' | 'auto' {
  switch (mode) {
    case DecodeMode.DECODE_MODE_UNSPECIFIED:
      return rpc === 'generate' ? 'auto' : 'lockstep';
    case DecodeMode.DECODE_MODE_AUTO:
      return 'auto';
    case DecodeMode.DECODE_MODE_LOCKSTEP:
      if (rpc === 'generate') {
        throw invalidArgument('`mode` must be AUTO (or unset) for Generate, which takes no decisions; given LOCKSTEP');
      }
      return 'lockstep';
    default:
      throw invalidArgument(`\`mode\` must be one of LOCKSTEP, AUTO; given ${mode}`);
  }
}

function resolveSelection(start: Start, defaults: ModelDefaults, defaultsFromModel: string[]): ResolvedStart['selection'] {
  const selection = start.selection;
  const doSample = start.generationConfig?.doSample;
  const seed = selection?.seed ?? randomBytes(8).readBigUInt64LE();
  switch (selection?.mode ?? SelectionMode.SELECTION_MODE_UNSPECIFIED) {
    case SelectionMode.SELECTION_MODE_UNSPECIFIED:
      if (start.generationConfig === undefined && defaults.doSample) {
        defaultsFromModel.push('selection.mode');
        return { mode: 'sample', seed };
      }
      return doSample === true ? { mode: 'sample', seed } : { mode: 'greedy', seed: 0n };
    case SelectionMode.SELECTION_MODE_GREEDY:
      if (doSample === true) {
        throw invalidArgument('`selection.mode` GREEDY contradicts `generation_config.do_sample`; given do_sample true');
      }
      return { mode: 'greedy', seed: 0n };
    case SelectionMode.SELECTION_MODE_SAMPLE:
      if (doSample === false) {
        throw invalidArgument('`selection.mode` SAMPLE contradicts `generation_config.do_sample`; given do_sample false');
      }
      return { mode: 'sample', seed };
    default:
      throw invalidArgument(`\`selection.mode\` must be one of GREEDY, SAMPLE; given ${selection?.mode}`);
  }
}

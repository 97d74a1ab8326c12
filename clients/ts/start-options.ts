/**
 * How a decode starts, in plain values, and its encoding as the `Start` message.
 *
 * ```ts
 * const start: DecodeStart = {
 *   text: 'translate English to German: The house is wonderful.',
 *   maxNewTokens: 20,
 *   generationConfig: { topP: 0.9, temperature: 0.7 },
 *   selection: { sample: { seed: 42 } },
 *   stream: { entropy: true, topNAlternatives: 5 },
 * };
 * ```
 */
import { toProcessorSpec, type ProcessorInput } from './param-values.js';
import {
  BeamSearch,
  DecodeMode,
  GenerationConfig,
  LogitsFormat,
  SelectionMode,
  type Selection,
  type Start,
  type StreamOptions,
} from './proto.js';

/** Format of the raw logits the server streams for each step. */
export type RawLogitsFormat = 'float32' | 'float16' | 'top-k' | 'none';

/** What the server streams back for each step. */
export interface StreamInput {
  /** Raw logits format; default float32 (exactly the model's output). */
  readonly rawLogits?: RawLogitsFormat;
  /** With `rawLogits: 'top-k'`: how many of the highest raw logits to send. */
  readonly rawTopK?: number;
  /** Also send the processed scores (after the whole pipeline) with each token. */
  readonly processedScores?: boolean;
  /** Also send this many most likely tokens under the processed distribution (at most 64). */
  readonly topNAlternatives?: number;
  /** Also send the entropies of the processed and raw distributions. */
  readonly entropy?: boolean;
}

/** The input, limits, pipeline, selection, streamed extras and mode of a decode. */
export interface DecodeStart {
  /** Text, tokenized by the server (which appends `</s>`). Give exactly one of `text` and `inputIds`. */
  readonly text?: string;
  /** Encoder input ids, used as given. */
  readonly inputIds?: readonly number[];
  /** Tokens fed to the decoder after its start token, before the first step. */
  readonly decoderPrefixIds?: readonly number[];
  /** Most tokens to generate; omitted means the server's limit. */
  readonly maxNewTokens?: number;
  /** EOS is masked until this many tokens were generated. */
  readonly minNewTokens?: number;
  /** Decoding stops once the generated text contains one of these. */
  readonly stopStrings?: readonly string[];
  /** Decoding stops once the generated ids end with one of these. */
  readonly stopTokenSequences?: readonly (readonly number[])[];
  /** Processors applied in this order to every step's logits before selection. */
  readonly processors?: readonly ProcessorInput[];
  /** Hugging Face `GenerationConfig` settings, expanded by the server in Hugging Face's order. */
  readonly generationConfig?: Partial<GenerationConfig>;
  /** Greedy, or sampling with an optional seed; omitted follows `generationConfig.doSample`. */
  readonly selection?: 'greedy' | { readonly sample: { readonly seed?: number | bigint } };
  readonly stream?: StreamInput;
  /** Lockstep (the server waits for a decision at every step; the default of `Decode`) or auto. */
  readonly mode?: 'lockstep' | 'auto';
  /** Which of the server's models decodes (a name `listModels` gives); omitted: the server's default model. */
  readonly model?: string;
  /** Beam search (auto mode): `numBeams`, `lengthPenalty`, `earlyStopping`, `numReturnSequences`. */
  readonly beamSearch?: Partial<BeamSearch>;
}

const RAW_LOGITS_FORMATS: Record<RawLogitsFormat, LogitsFormat> = {
  float32: LogitsFormat.LOGITS_FORMAT_FLOAT32,
  float16: LogitsFormat.LOGITS_FORMAT_FLOAT16,
  'top-k': LogitsFormat.LOGITS_FORMAT_TOP_K,
  none: LogitsFormat.LOGITS_FORMAT_NONE,
};

function toSelection(selection: DecodeStart['selection']): Selection | undefined {
  if (selection === undefined) return undefined;
  if (selection === 'greedy') return { mode: SelectionMode.SELECTION_MODE_GREEDY };
  const { seed } = selection.sample;
  if (seed !== undefined && (BigInt(seed) < 0n || BigInt(seed) >= 2n ** 64n)) {
    throw new RangeError(`sampling seed must be in [0, 2^64); given ${seed}`);
  }
  return { mode: SelectionMode.SELECTION_MODE_SAMPLE, seed: seed === undefined ? undefined : BigInt(seed) };
}

function toStreamOptions(stream: StreamInput | undefined): StreamOptions | undefined {
  if (stream === undefined) return undefined;
  const format = stream.rawLogits ?? 'float32';
  if (!(format in RAW_LOGITS_FORMATS)) {
    throw new RangeError(`stream.rawLogits must be one of ${Object.keys(RAW_LOGITS_FORMATS).join(', ')}; given ${format}`);
  }
  return {
    rawLogits: RAW_LOGITS_FORMATS[format],
    rawTopK: stream.rawTopK ?? 0,
    processedScores: stream.processedScores ?? false,
    topNAlternatives: stream.topNAlternatives ?? 0,
    entropy: stream.entropy ?? false,
  };
}

/** Encodes `start`; throws on a contradiction the server would reject anyway (both or neither input). */
export function toStartMessage(start: DecodeStart): Start {
  const hasText = start.text !== undefined;
  const hasIds = start.inputIds !== undefined;
  if (hasText === hasIds) throw new RangeError('a decode needs exactly one of `text` and `inputIds`');
  return {
    input: hasText ? { $case: 'text', value: start.text! } : { $case: 'tokenIds', value: { ids: [...start.inputIds!] } },
    decoderPrefixIds: [...(start.decoderPrefixIds ?? [])],
    maxNewTokens: start.maxNewTokens ?? 0,
    minNewTokens: start.minNewTokens ?? 0,
    stopStrings: [...(start.stopStrings ?? [])],
    stopTokenSequences: (start.stopTokenSequences ?? []).map((ids) => ({ ids: [...ids] })),
    processors: (start.processors ?? []).map(toProcessorSpec),
    generationConfig: start.generationConfig === undefined ? undefined : GenerationConfig.fromPartial(start.generationConfig),
    beamSearch: start.beamSearch === undefined ? undefined : BeamSearch.fromPartial(start.beamSearch),
    selection: toSelection(start.selection),
    stream: toStreamOptions(start.stream),
    mode:
      start.mode === undefined
        ? DecodeMode.DECODE_MODE_UNSPECIFIED
        : start.mode === 'auto'
          ? DecodeMode.DECODE_MODE_AUTO
          : DecodeMode.DECODE_MODE_LOCKSTEP,
    model: start.model ?? '',
  };
}

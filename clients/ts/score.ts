/**
 * Scoring given targets for an input (`Score`, `ScoreBatch`): the request in plain values, and the answer
 * with each position's raw logits already readable as a `Float32Array`.
 *
 * ```ts
 * const scored = await client.score({
 *   text: 'translate English to German: The house is wonderful.',
 *   targets: ['Das Haus ist wunderbar.', [644, 4598, 1]],   // text (</s> appended) or ids (as given)
 *   topNAlternatives: 3,
 *   entropy: true,
 * });
 * for (const target of scored.results) console.log(target.text, target.logprobSum, target.logprobMean);
 * ```
 */
import { tensorToFloat32 } from './logits.js';
import type { RawLogitsFormat } from './start-options.js';
import {
  LogitsFormat,
  type Alternative,
  type ScoreRequest,
  type ScoreResponse,
  type ScoreTimings,
  type TargetScore,
  type TokenScore,
  type TopLogits,
} from './proto.js';

/** A target: text (tokenized by the server with `</s>` appended, as Hugging Face's `labels`) or ids, scored as given. */
export type ScoreTargetInput = string | readonly number[];

/** An input, its targets and what to report for every target token. */
export interface ScoreInput {
  /** Text, tokenized by the server (which appends `</s>`). Give exactly one of `text` and `inputIds`. */
  readonly text?: string;
  /** Encoder input ids, used as given. */
  readonly inputIds?: readonly number[];
  /** The targets, at least one; each is scored on its own after the input and `decoderPrefixIds`. */
  readonly targets: readonly ScoreTargetInput[];
  /** Tokens fed to the decoder after its start token and before every target; not scored. */
  readonly decoderPrefixIds?: readonly number[];
  /** Also report this many most likely tokens at each target position. */
  readonly topNAlternatives?: number;
  /** Also report the entropy of each target position's distribution. */
  readonly entropy?: boolean;
  /** Also send each position's raw logits in this format; default none (a row is `vocab_size` floats per token). */
  readonly rawLogits?: RawLogitsFormat;
  /** With `rawLogits: 'top-k'`: how many of the highest raw logits to send. */
  readonly rawTopK?: number;
  /** Which of the server's models scores (`listModels`); unset: its default. */
  readonly model?: string;
}

/** One target token and its scores under the raw distribution at its position. */
export interface ScoredToken {
  readonly tokenId: number;
  /** The text this token adds to the target's text. */
  readonly text: string;
  /** Raw log-probability of the token (as a forced `Decode`'s `raw_logprob`). */
  readonly logprob: number;
  /** 1 + the number of ids whose raw logit is strictly higher (1: nothing is more likely). */
  readonly rank: number;
  /** With `topNAlternatives`: the most likely tokens at this position, most likely first. */
  readonly alternatives: readonly Alternative[];
  /** With `entropy`: the entropy of the raw distribution at this position, in nats. */
  readonly entropy: number | undefined;
  /**
   * With `rawLogits` float32 or float16: the position's raw logits (`vocab_size` floats). For float32, a view
   * over the received bytes where they lie on a 4-byte boundary of the response (rows share one message, so
   * not all do), else a copy.
   */
  readonly logits: Float32Array | undefined;
  /** With `rawLogits: 'top-k'`: the position's highest raw logits. */
  readonly top: TopLogits | undefined;
  /** The message as received. */
  readonly message: TokenScore;
}

/** The scores of one target. */
export interface ScoredTarget {
  /** One per target token, in order. */
  readonly tokens: readonly ScoredToken[];
  /** The target's ids (a text target's tokenization, `</s>` included). */
  readonly tokenIds: readonly number[];
  /** The target's ids decoded, special tokens skipped. */
  readonly text: string;
  /** Sum of the tokens' log-probabilities: the target's log-likelihood given the input and the prompt. */
  readonly logprobSum: number;
  /** Mean of the tokens' log-probabilities; Hugging Face's loss with `labels` is its negative. */
  readonly logprobMean: number;
}

/** The answer for one input. */
export interface ScoreResult {
  /** One per target, in the request's order. */
  readonly results: readonly ScoredTarget[];
  /** The encoder input ids (the tokenized text, or the ids given). */
  readonly inputIds: readonly number[];
  /** What the decoder saw before every target: its start token and `decoderPrefixIds`. */
  readonly decoderPromptIds: readonly number[];
  /** Server-side timings, in milliseconds. */
  readonly timings: ScoreTimings | undefined;
  /** The message as received. */
  readonly response: ScoreResponse;
}

const RAW_LOGITS_FORMATS: Record<RawLogitsFormat, LogitsFormat> = {
  float32: LogitsFormat.LOGITS_FORMAT_FLOAT32,
  float16: LogitsFormat.LOGITS_FORMAT_FLOAT16,
  'top-k': LogitsFormat.LOGITS_FORMAT_TOP_K,
  none: LogitsFormat.LOGITS_FORMAT_NONE,
};

/** Encodes `input`; throws on a contradiction the server would reject anyway (both or neither input, no target). */
export function toScoreRequest(input: ScoreInput): ScoreRequest {
  const hasText = input.text !== undefined;
  if (hasText === (input.inputIds !== undefined)) throw new RangeError('a score needs exactly one of `text` and `inputIds`');
  if (input.targets.length === 0) throw new RangeError('a score needs at least one target');
  const format = input.rawLogits ?? 'none';
  if (!(format in RAW_LOGITS_FORMATS)) {
    throw new RangeError(`rawLogits must be one of ${Object.keys(RAW_LOGITS_FORMATS).join(', ')}; given ${format}`);
  }
  return {
    input: hasText ? { $case: 'text', value: input.text! } : { $case: 'tokenIds', value: { ids: [...input.inputIds!] } },
    targets: input.targets.map((target) => ({
      target: typeof target === 'string' ? { $case: 'text', value: target } : { $case: 'tokenIds', value: { ids: [...target] } },
    })),
    decoderPrefixIds: [...(input.decoderPrefixIds ?? [])],
    topNAlternatives: input.topNAlternatives ?? 0,
    entropy: input.entropy ?? false,
    rawLogits: RAW_LOGITS_FORMATS[format],
    rawTopK: input.rawTopK ?? 0,
    model: input.model ?? '',
  };
}

function toScoredToken(message: TokenScore): ScoredToken {
  return {
    tokenId: message.tokenId,
    text: message.text,
    logprob: message.logprob,
    rank: message.rank,
    alternatives: message.alternatives,
    entropy: message.entropy,
    logits: message.raw === undefined ? undefined : tensorToFloat32(message.raw),
    top: message.top,
    message,
  };
}

function toScoredTarget(message: TargetScore): ScoredTarget {
  const tokens = message.tokens.map(toScoredToken);
  return {
    tokens,
    tokenIds: tokens.map((token) => token.tokenId),
    text: message.text,
    logprobSum: message.logprobSum,
    logprobMean: message.logprobMean,
  };
}

/** The typed view of a `ScoreResponse`. */
export function toScoreResult(response: ScoreResponse): ScoreResult {
  return {
    results: response.results.map(toScoredTarget),
    inputIds: response.inputIds,
    decoderPromptIds: response.decoderPromptIds,
    timings: response.timings,
    response,
  };
}

/**
 * Validates the requests of one `Score` or `ScoreBatch` call against the model and the server's limits and
 * resolves them into `ScorePlan`s: every check happens here, before any model work, and each failure names
 * the field (from the call's root: `targets[2].text`, or `requests[1].targets[2].text` in a batch), the
 * allowed range and the value given.
 *
 * What one call may cost is bounded as a whole: its targets (`maxScoreTargets`, counted before anything is
 * tokenized), its target tokens (`maxScoreTokens`, one logits row each), and the raw rows it asks for,
 * which must fit in one response message.
 */
import type { ScoreRequest, ScoreTarget as WireScoreTarget } from '../gen/stepwise/v1/stepwise.js';
import type { ModelRuntime } from '../runtime/types.js';
import type { RawLogitsFormat, StreamPlan } from './decode-plan.js';
import { requireInClosedRange, requireTokenIds, resolveRawLogitsFormat } from './request-checks.js';
import type { ServerLimits } from './server-limits.js';
import { invalidArgument } from './status.js';
import { tokenizeText } from './text-input.js';

/** What a request asks to be reported for each target token, besides its id, text, logprob and rank. */
export type ScoreReport = Pick<StreamPlan, 'topNAlternatives' | 'entropy' | 'rawLogits'>;

/** One validated `ScoreRequest`. */
export interface ScorePlan {
  readonly inputIds: readonly number[];
  /** Decoder tokens after the start token, before every target. */
  readonly prefix: readonly number[];
  /** Each target's ids. */
  readonly targets: readonly (readonly number[])[];
  readonly report: ScoreReport;
}

type ScoreModel = Pick<ModelRuntime, 'info' | 'tokenizer'>;

/** A `Score` call's request as a plan. */
export function resolveScoreCall(request: ScoreRequest, model: ScoreModel, limits: ServerLimits): ScorePlan {
  checkTargetCount(request.targets.length, '`targets`', limits);
  const plan = resolveScoreRequest(request, '', model, limits);
  checkCallCost([plan], model.info.vocabSize, limits);
  return plan;
}

/** A `ScoreBatch` call's requests as plans, in order. */
export function resolveScoreBatchCall(requests: readonly ScoreRequest[], model: ScoreModel, limits: ServerLimits): ScorePlan[] {
  if (requests.length === 0) throw invalidArgument('`requests` must hold at least one request; given 0');
  const targets = requests.reduce((sum, request) => sum + request.targets.length, 0);
  checkTargetCount(targets, 'the `targets` of `requests`', limits, ' together');
  const plans = requests.map((request, i) => resolveScoreRequest(request, `requests[${i}].`, model, limits));
  checkCallCost(plans, model.info.vocabSize, limits);
  return plans;
}

function checkTargetCount(count: number, what: string, limits: ServerLimits, together = ''): void {
  if (count > limits.maxScoreTargets) {
    throw invalidArgument(`${what} must hold at most ${limits.maxScoreTargets} targets${together} (\`max_score_targets\`); given ${count}`);
  }
}

/** One request; `at` is the path of the request from the call's root ("" or "requests[i]."). */
function resolveScoreRequest(request: ScoreRequest, at: string, model: ScoreModel, limits: ServerLimits): ScorePlan {
  const { vocabSize } = model.info;
  const inputIds = resolveInput(request, at, model, limits);
  if (request.targets.length === 0) throw invalidArgument(`\`${at}targets\` must hold at least one target; given 0`);
  const prefix = request.decoderPrefixIds;
  if (prefix.length > limits.maxNewTokens) {
    throw invalidArgument(`\`${at}decoder_prefix_ids\` must hold at most ${limits.maxNewTokens} ids (\`max_new_tokens\`); given ${prefix.length}`);
  }
  requireTokenIds(`${at}decoder_prefix_ids`, prefix, vocabSize);
  requireInClosedRange(`${at}top_n_alternatives`, request.topNAlternatives, 0, Math.min(limits.maxTopNAlternatives, vocabSize));
  // UNSPECIFIED means NONE for `Score`: rows are asked for, not sent by default.
  const rawLogits = resolveRawLogitsFormat(request.rawLogits, request.rawTopK, vocabSize, at, { kind: 'none' });
  const report = { topNAlternatives: request.topNAlternatives, entropy: request.entropy, rawLogits };
  const targets = request.targets.map((target, i) => resolveTarget(target, `${at}targets[${i}]`, model, limits));
  return { inputIds, prefix: [...prefix], targets, report };
}

function resolveInput(request: ScoreRequest, at: string, model: ScoreModel, limits: ServerLimits): readonly number[] {
  const input = request.input;
  switch (input?.$case) {
    case 'text': {
      const ids = tokenizeText(model.tokenizer, input.value, `${at}text`, limits);
      if (ids.length > limits.maxInputTokens) {
        throw invalidArgument(`\`${at}text\` must encode to at most ${limits.maxInputTokens} tokens (\`max_input_tokens\`); given ${ids.length} tokens`);
      }
      return ids;
    }
    case 'tokenIds':
      return checkedIds(input.value.ids, `${at}token_ids.ids`, limits.maxInputTokens, '`max_input_tokens`', model.info.vocabSize);
    case undefined:
      throw invalidArgument(`\`${at}input\` must be set (text or token_ids); given none`);
  }
}

/** A target's ids: a text's tokens with `</s>` appended (as `labels` are tokenized), or the ids as given. */
function resolveTarget(target: WireScoreTarget, field: string, model: ScoreModel, limits: ServerLimits): readonly number[] {
  const given = target.target;
  switch (given?.$case) {
    case 'text': {
      const ids = tokenizeText(model.tokenizer, given.value, `${field}.text`, limits);
      if (ids.length > limits.maxNewTokens) {
        throw invalidArgument(`\`${field}.text\` must encode to at most ${limits.maxNewTokens} tokens (\`max_new_tokens\`); given ${ids.length} tokens`);
      }
      return ids;
    }
    case 'tokenIds':
      return checkedIds(given.value.ids, `${field}.token_ids.ids`, limits.maxNewTokens, '`max_new_tokens`', model.info.vocabSize);
    case undefined:
      throw invalidArgument(`\`${field}.target\` must be set (text or token_ids); given none`);
  }
}

function checkedIds(ids: readonly number[], field: string, most: number, limit: string, vocabSize: number): readonly number[] {
  if (ids.length === 0) throw invalidArgument(`\`${field}\` must hold at least one id; given 0`);
  if (ids.length > most) throw invalidArgument(`\`${field}\` must hold at most ${most} ids (${limit}); given ${ids.length}`);
  requireTokenIds(field, ids, vocabSize);
  return [...ids];
}


/** The call's target tokens, and the bytes of the raw rows it asks for, against the server's bounds. */
function checkCallCost(plans: readonly ScorePlan[], vocabSize: number, limits: ServerLimits): void {
  const tokensOf = (plan: ScorePlan): number => plan.targets.reduce((sum, target) => sum + target.length, 0);
  const tokens = plans.reduce((sum, plan) => sum + tokensOf(plan), 0);
  if (tokens > limits.maxScoreTokens) {
    throw invalidArgument(`the targets of one call must hold at most ${limits.maxScoreTokens} tokens together (\`max_score_tokens\`); given ${tokens}`);
  }
  const rowBytes = plans.reduce((sum, plan) => sum + tokensOf(plan) * bytesPerRow(plan.report.rawLogits, vocabSize), 0);
  if (rowBytes > limits.maxSendMessageBytes) {
    throw invalidArgument(
      `the raw rows asked for (\`raw_logits\`) make a response of at least ${rowBytes} bytes; one response holds at most ` +
        `${limits.maxSendMessageBytes} bytes: ask for FLOAT16, TOP_K or fewer target tokens per call`,
    );
  }
}

/** Bytes a token's raw row takes in the response, at the least. */
function bytesPerRow(format: RawLogitsFormat, vocabSize: number): number {
  switch (format.kind) {
    case 'float32':
      return 4 * vocabSize;
    case 'float16':
      return 2 * vocabSize;
    case 'top-k':
      // An id (a varint of one byte at least) and a float32 logit for each of the k.
      return 5 * format.k;
    case 'none':
      return 0;
  }
}

/**
 * A decode stream's messages, to and from the wire: the server messages it sends (`Started`, `StepLogits`,
 * `TokenChosen`, `Applied`, `Finished`) built from the session's own values, and the client messages it
 * reads after `Start` (a decision or a stop, with their pipeline changes) checked and turned into the
 * processors' terms. The session itself never touches a generated type's fields.
 */
import {
  type DecodeRequest,
  type DecodeResponse,
  type Finished,
  type PipelineChange as WirePipelineChange,
  type StepDecision,
  type StepLogits,
  type TokenChosen,
  DecodeMode,
  FinishReason,
  PipelineScope,
  SelectionMode,
  TokenSource,
} from '../gen/stepwise/v1/stepwise.js';
import type { PipelineChange, PipelineScope as Scope, ProcessorSpec, StepScore } from '../processors/index.js';
import type { ModelInfo } from '../runtime/types.js';
import type { DecodePlan, RawLogitsFormat } from './decode-plan.js';
import { beamSearchMessage } from './beam-wire.js';
import { float16Tensor, float32Tensor, topLogits } from './logits-encoding.js';
import { fromWireProcessorSpec, toWireParams } from './param-values.js';
import { MalformedRequest, malformedRequestError } from './service-definition.js';
import { specialTokenIds } from './special-ids.js';
import { failedPrecondition, invalidArgument } from './status.js';

/** A server message of a decode stream (the `Decode` and `Generate` envelopes share these). */
export type SessionMessage = NonNullable<DecodeResponse['message']>;

/** Why a stream ended on its own or at the client's word. */
export type FinishCause = 'eos' | 'stop-sequence' | 'max-new-tokens' | 'client-stop';

/** What `Started` reports beyond the plan. */
export interface StartedFacts {
  readonly pipeline: readonly ProcessorSpec[];
  readonly selection: { readonly mode: 'greedy' | 'sample'; readonly seed: bigint };
  /** `Start` fields left unset that took the model folder's `generation_config.json` value. */
  readonly defaultsFromModel: readonly string[];
}

export function startedMessage(info: ModelInfo, plan: DecodePlan, facts: StartedFacts): SessionMessage {
  return {
    $case: 'started',
    value: {
      inputIds: [...plan.inputIds],
      vocabSize: info.vocabSize,
      specialIds: specialTokenIds(info.specialIds),
      modelName: info.name,
      pipeline: facts.pipeline.map((spec) => ({ name: spec.name, params: toWireParams(spec.params) })),
      selectionMode:
        facts.selection.mode === 'sample' ? SelectionMode.SELECTION_MODE_SAMPLE : SelectionMode.SELECTION_MODE_GREEDY,
      seed: facts.selection.seed,
      mode: plan.mode === 'auto' ? DecodeMode.DECODE_MODE_AUTO : DecodeMode.DECODE_MODE_LOCKSTEP,
      maxNewTokens: plan.maxNewTokens,
      decoderPromptIds: [info.specialIds.decoderStart, ...plan.decoderPrefix],
      defaultsFromModel: [...facts.defaultsFromModel],
      beamSearch: plan.beams && beamSearchMessage(plan.beams),
    },
  };
}

/**
 * Encodes one step's raw row in the format the client asked for. The float16 scratch row is the
 * stream's own, reused at every step (the message is encoded as soon as it is sent).
 */
export class StepLogitsEncoder {
  private float16Scratch: Uint16Array | undefined;

  constructor(private readonly format: RawLogitsFormat) {}

  /** Whether the stream carries a `StepLogits` at every step (LOCKSTEP always does: it announces the step). */
  static sentEveryStep(plan: DecodePlan): boolean {
    return plan.mode === 'lockstep' || plan.stream.rawLogits.kind !== 'none';
  }

  /** The `StepLogits` of `step` (of `branch`, 0 unless the stream forked). */
  message(raw: Float32Array, step: number, branch = 0): SessionMessage {
    return { $case: 'logits', value: this.stepLogits(raw, step, branch) };
  }

  private stepLogits(raw: Float32Array, step: number, branch: number): StepLogits {
    switch (this.format.kind) {
      case 'float32':
        return { step, raw: float32Tensor(raw), top: undefined, branch };
      case 'float16':
        this.float16Scratch ??= new Uint16Array(raw.length);
        return { step, raw: float16Tensor(raw, this.float16Scratch), top: undefined, branch };
      case 'top-k':
        return { step, raw: undefined, top: topLogits(raw, this.format.k), branch };
      case 'none':
        return { step, raw: undefined, top: undefined, branch };
    }
  }
}

/**
 * The `TokenChosen` of `step` (of `branch`). `textInstead(id)` is the text an alternative would have added,
 * had it been taken instead of the token.
 */
export function tokenChosenMessage(
  step: number,
  text: string,
  score: StepScore,
  textInstead: (id: number) => string,
  branch = 0,
): SessionMessage {
  const value: TokenChosen = {
    step,
    tokenId: score.tokenId,
    text,
    logprob: score.logprob,
    rawLogprob: score.rawLogprob,
    source: score.forced ? TokenSource.TOKEN_SOURCE_FORCED : TokenSource.TOKEN_SOURCE_SELECTED,
    processedScores: score.processedScores && float32Tensor(score.processedScores),
    alternatives: score.alternatives.map((alternative) => ({
      tokenId: alternative.tokenId,
      text: textInstead(alternative.tokenId),
      logprob: alternative.logprob,
      rawLogprob: alternative.rawLogprob,
    })),
    entropy: score.entropy,
    rawEntropy: score.rawEntropy,
    branch,
  };
  return { $case: 'token', value };
}

export function appliedMessage(messageIndex: number, fromStep: number): SessionMessage {
  return { $case: 'applied', value: { messageIndex, fromStep } };
}

export const FINISH_REASONS: Readonly<Record<FinishCause, FinishReason>> = {
  eos: FinishReason.FINISH_REASON_EOS,
  'stop-sequence': FinishReason.FINISH_REASON_STOP_SEQUENCE,
  'max-new-tokens': FinishReason.FINISH_REASON_MAX_NEW_TOKENS,
  'client-stop': FinishReason.FINISH_REASON_CLIENT_STOP,
};

export function finishedMessage(
  cause: FinishCause,
  tokenIds: readonly number[],
  text: string,
  timings: Finished['timings'],
  branch = 0,
): SessionMessage {
  return { $case: 'finished', value: { reason: FINISH_REASONS[cause], tokenIds: [...tokenIds], text, timings, sequences: [], branch } };
}

export function forkedMessage(branch: number, fromBranch: number, step: number): SessionMessage {
  return { $case: 'forked', value: { branch, fromBranch, step } };
}

/** A client message read after `Start`: a decision, or the client's stop (of a branch). */
export type ClientMove =
  | { readonly kind: 'decision'; readonly decision: StepDecision }
  | { readonly kind: 'stop'; readonly branch: number };

/** Checks a client message read after `Start` (`step`: the step awaiting a token, for errors). */
export function readClientMessage(request: DecodeRequest | MalformedRequest, step: number): ClientMove {
  if (request instanceof MalformedRequest) throw malformedRequestError(request);
  const message = request.message;
  switch (message?.$case) {
    case 'decision':
      return { kind: 'decision', decision: message.value };
    case 'stop':
      return { kind: 'stop', branch: message.value.branch };
    case 'start':
      throw failedPrecondition(`\`start\` may be sent only once; a second one arrived at step ${step}`);
    case undefined:
      throw invalidArgument('`message` must be set (start, decision or stop); given none');
  }
}

/** A decision's pipeline changes in the processors' terms; `field` names the list in errors. */
export function pipelineChangesFromWire(changes: readonly WirePipelineChange[], field: string): PipelineChange[] {
  return changes.map((change, i) => pipelineChangeFromWire(change, `${field}[${i}]`));
}

function pipelineChangeFromWire(change: WirePipelineChange, field: string): PipelineChange {
  const scope = scopeFromWire(change.scope, `${field}.scope`);
  const edit = change.change;
  switch (edit?.$case) {
    case 'add': {
      const processor = edit.value.processor;
      if (processor === undefined) throw invalidArgument(`\`${field}.add.processor\` must be set; given none`);
      return { kind: 'add', spec: fromWireProcessorSpec(processor, `${field}.add.processor`), index: edit.value.index, scope };
    }
    case 'replace':
      return { kind: 'replace', spec: fromWireProcessorSpec(edit.value, `${field}.replace`), scope };
    case 'remove':
      return { kind: 'remove', name: edit.value, scope };
    case undefined:
      throw invalidArgument(`\`${field}.change\` must be set (add, replace or remove); given none`);
  }
}

function scopeFromWire(scope: PipelineScope, field: string): Scope {
  switch (scope) {
    case PipelineScope.PIPELINE_SCOPE_THIS_STEP:
      return 'this-step';
    case PipelineScope.PIPELINE_SCOPE_UNSPECIFIED:
    case PipelineScope.PIPELINE_SCOPE_FROM_NOW_ON:
      return 'from-now-on';
    default:
      throw invalidArgument(`\`${field}\` must be one of THIS_STEP, FROM_NOW_ON; given ${scope}`);
  }
}

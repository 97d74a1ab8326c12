/**
 * One decode stream, as a state machine over the runtime's decode state:
 *
 * ```
 *   started ──► compute step t ──► send StepLogits(t) ──► decide ──► send TokenChosen(t) ──► finished?
 *                    ▲                                     │  │                                │ no
 *                    │            rewind n (t ← t − n) ◄───┘  └──► stop ──► Finished            │
 *                    └──────────────────────────────────────────────────────────────────────────┘
 * ```
 *
 * "decide" is where the modes differ. LOCKSTEP waits for exactly one client decision for step t (a forced
 * run supplies the decisions of its own steps) and never selects before it. AUTO takes every client
 * message that has already arrived, applies it from step t (the first step whose token is not chosen
 * yet), says so with `Applied`, and goes on without waiting.
 *
 * The raw row computed for step t is sent as is and never modified: processors work on the stream's
 * working copy. Step t + 1 starts as soon as step t's token is known, so the decoder runs while step t is
 * scored and its `TokenChosen` written. Each write waits for the transport when it is full
 * (`ResponseWriter`), and step t + 2 never starts before step t's messages were taken, so a slow client
 * slows its own stream only, by one step at most.
 */
import { performance } from 'node:perf_hooks';
import {
  type DecodeRequest,
  type DecodeResponse,
  type PipelineChange,
  type Started,
  type StepLogits,
  type StepDecision,
  type TokenChosen,
  DecodeMode,
  FinishReason,
  PipelineScope,
  SelectionMode,
  TokenSource,
} from '../gen/stepwise/v1/stepwise.js';
import type { DecodeState, EncodedInput, ModelRuntime, NextTokenHint } from '../runtime/types.js';
import type { ClientMessages } from './client-messages.js';
import type { DecodePlan } from './decode-plan.js';
import { nextTurn } from './event-loop-turns.js';
import { IncrementalDetokenizer } from './incremental-detokenizer.js';
import { float16Tensor, float32Tensor, topLogits } from './logits-encoding.js';
import { fromWireProcessorSpec, toWireParams } from './param-values.js';
import { requireTokenId, requireTokenIds } from './request-checks.js';
import { MalformedRequest, malformedRequestError } from './service-definition.js';
import { specialTokenIds } from './special-ids.js';
import { decodeText } from './text-decoding.js';
import { failedPrecondition, invalidArgument, outOfRange } from './status.js';
import type { PipelineEdit, PipelineScope as EditScope, StepScore, StreamScoring } from './stream-scoring.js';

/** A server message of a decode stream (the `Decode` and `Generate` envelopes share these). */
export type SessionMessage = NonNullable<DecodeResponse['message']>;

/** Writes one message (encoding it at once) and resolves when the stream can take the next. */
export type SendMessage = (message: SessionMessage) => Promise<void>;

/** What the session reports in `Started` beyond the plan. */
export interface SelectionSummary {
  readonly mode: 'greedy' | 'sample';
  readonly seed: bigint;
}

export interface DecodeSessionParts {
  /** The model; its `step` batches this stream with the others (the composition root's scheduler). */
  readonly model: ModelRuntime;
  readonly plan: DecodePlan;
  readonly scoring: StreamScoring;
  readonly selection: SelectionSummary;
  readonly encoded: EncodedInput;
  readonly send: SendMessage;
  /** Client messages after `Start` (`Decode`); absent for `Generate`, which has none. */
  readonly messages: ClientMessages<DecodeRequest | MalformedRequest> | undefined;
  /** Raised when the call ends any other way (cancel, deadline, shutdown). */
  readonly signal: AbortSignal;
  /** `performance.now()` when `Start` arrived, for `Timings.total_ms`. */
  readonly startedAt: number;
}

/** What to do at the step awaiting a token. */
type StepAction =
  | { readonly kind: 'take'; readonly forced: number | undefined; readonly pipelineChanged?: boolean }
  | { readonly kind: 'rewind'; readonly count: number }
  | { readonly kind: 'stop' };

/** What a valid decision asks for: tokens to force from this step on (none: select), or a rewind. */
type DecisionAction =
  | { readonly kind: 'take'; readonly forced: readonly number[]; readonly pipelineChanged: boolean }
  | { readonly kind: 'rewind'; readonly count: number };

export class DecodeSession {
  private readonly model: ModelRuntime;
  private readonly plan: DecodePlan;
  private readonly scoring: StreamScoring;
  private readonly state: DecodeState;
  private readonly detokenizer: IncrementalDetokenizer;
  private readonly generated: number[] = [];
  /** Tokens of a forced run still to take, one per step. */
  private forcedQueue: number[] = [];
  /** Client messages read after `Start` (for `Applied.message_index`). */
  private messagesRead = 0;
  private readonly stepMs: number[] = [];
  /** Whether the last LOCKSTEP decision let the pipeline select (then the next step is run ahead of it). */
  private lastDecisionSelected = true;
  /** The ids that may end the stream (EOS, the last id of a stop sequence): no step is run ahead after them. */
  private readonly endIds: readonly number[];
  /** The greedy hint for the pipeline whose lowered ids are `lowered` (pipelines change rarely; steps do not). */
  private greedyHint: { readonly lowered: readonly number[]; readonly hint: NextTokenHint } | undefined;
  /** Scratch for float16 raw logits, allocated on first use and reused at every step. */
  private float16Scratch: Uint16Array | undefined;
  private disposed = false;

  constructor(private readonly parts: DecodeSessionParts) {
    this.model = parts.model;
    this.plan = parts.plan;
    this.scoring = parts.scoring;
    this.detokenizer = new IncrementalDetokenizer(parts.model.tokenizer);
    this.state = parts.model.createState(parts.encoded, parts.plan.decoderPrefix);
    this.endIds = [...parts.plan.eosIds, ...parts.plan.stop.sequenceEnds];
  }

  /** The step awaiting a token: the number of tokens generated so far. */
  get step(): number {
    return this.generated.length;
  }

  /** Frees the decode state (KV cache); idempotent, and safe while a step is running. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.state.dispose();
  }

  /** Runs the stream to its end: `Started`, the steps, then `Finished`. Throws on a protocol error. */
  async run(): Promise<void> {
    await this.parts.send({ $case: 'started', value: this.started() });
    let next = this.startStep();
    for (;;) {
      const raw = await next;
      // The step's messages before `TokenChosen`, in order; built and encoded when sent.
      const stepMessages: Array<() => SessionMessage> = [];
      if (this.plan.mode === 'lockstep' || this.plan.stream.rawLogits.kind !== 'none') {
        const step = this.step;
        stepMessages.push(() => ({ $case: 'logits', value: this.stepLogits(raw, step) }));
      }
      let action: StepAction;
      // LOCKSTEP: the token the next step already runs on, ahead of the decision.
      let ahead: number | undefined;
      if (this.plan.mode === 'lockstep') {
        ahead = this.runAhead(raw);
        if (ahead !== undefined) next = this.startStep();
        await this.sendAll(stepMessages.splice(0));
        action = await this.lockstepAction();
      } else {
        action = await this.sendingFirstOnError(stepMessages, () => this.autoAction(stepMessages));
      }
      if (action.kind === 'stop') {
        await this.sendAll(stepMessages);
        return this.finish(FinishReason.FINISH_REASON_CLIENT_STOP);
      }
      if (action.kind === 'rewind') {
        if (ahead !== undefined) await this.undoRunAhead(next);
        await this.sendAll(stepMessages);
        this.rewind(action.count);
        this.scoring.endStep();
        next = this.startStep();
        continue;
      }
      const step = this.step;
      const forced = action.forced;
      let tokenId: number;
      if (ahead !== undefined && forced === undefined && action.pipelineChanged !== true) {
        tokenId = ahead;
      } else {
        const history = ahead === undefined ? this.state.tokens : this.state.tokens.slice(0, -1);
        tokenId = await this.sendingFirstOnError(stepMessages, () => this.scoring.choose(raw, history, step, forced));
      }
      if (this.plan.mode === 'lockstep') this.lastDecisionSelected = forced === undefined;
      // A step run ahead on another token is undone; row `raw` must then be scored before the step that
      // replaces it starts (that run reuses its memory).
      const aheadMissed = ahead !== undefined && tokenId !== ahead;
      if (aheadMissed) await this.undoRunAhead(next);
      const textBefore = this.detokenizer.text.length;
      if (ahead === undefined || aheadMissed) this.state.append(tokenId);
      this.generated.push(tokenId);
      // The next decoder step needs nothing but this token: it runs on the model thread while this step
      // is streamed, detokenized and scored here. Row `raw` stays valid meanwhile (the runtime keeps a
      // state's last two rows), and the next step's messages still go out after this one's. Only stop
      // strings need the text before it is known whether the stream goes on.
      let started = ahead !== undefined && !aheadMissed;
      if (!started && !aheadMissed && !this.plan.stop.watchesText && this.finishReason(tokenId) === undefined) {
        next = this.startStep();
        started = true;
      }
      // Streams whose rows arrived with this one choose their tokens before any of them builds messages,
      // so their shared next run starts after a selection per stream, not after each one's messages; then
      // each builds and sends its messages in a turn of its own, so I/O is never held for all of them.
      await nextTurn();
      await this.sendAll(stepMessages);
      const text = this.detokenizer.push(tokenId);
      const reason = this.finishReason(tokenId, textBefore);
      const scoredFirst = aheadMissed ? this.scoring.report(raw, tokenId, forced !== undefined) : undefined;
      if (reason === undefined && !started) next = this.startStep();
      const score = scoredFirst ?? this.scoring.report(raw, tokenId, forced !== undefined);
      this.scoring.endStep();
      await this.parts.send({ $case: 'token', value: this.tokenChosen(step, text, score) });
      if (reason !== undefined) return this.finish(reason);
    }
  }

  /** Sends `messages` in order, each once the stream can take it. */
  private async sendAll(messages: ReadonlyArray<() => SessionMessage>): Promise<void> {
    for (const message of messages) await this.parts.send(message());
  }

  /**
   * Runs `work`; when it throws, the step's messages not sent yet go out first (the client sees the step
   * it was answering), then the error.
   */
  private async sendingFirstOnError<T>(stepMessages: ReadonlyArray<() => SessionMessage>, work: () => T): Promise<T> {
    try {
      return work();
    } catch (error) {
      await this.sendAll(stepMessages);
      throw error;
    }
  }

  private started(): Started {
    const { model, plan, parts } = this;
    return {
      inputIds: [...plan.inputIds],
      vocabSize: model.info.vocabSize,
      specialIds: specialTokenIds(model.info.specialIds),
      modelName: model.info.name,
      pipeline: this.scoring.pipeline().map((spec) => ({ name: spec.name, params: toWireParams(spec.params) })),
      selectionMode:
        parts.selection.mode === 'sample' ? SelectionMode.SELECTION_MODE_SAMPLE : SelectionMode.SELECTION_MODE_GREEDY,
      seed: parts.selection.seed,
      mode: plan.mode === 'auto' ? DecodeMode.DECODE_MODE_AUTO : DecodeMode.DECODE_MODE_LOCKSTEP,
      maxNewTokens: plan.maxNewTokens,
      decoderPromptIds: [model.info.specialIds.decoderStart, ...plan.decoderPrefix],
    };
  }

  /**
   * LOCKSTEP: chooses the token the pipeline would select and appends it, so that its decoder step runs
   * while the client reads this step and decides (a round trip per step, otherwise spent with the decoder
   * idle). When the decision leads to that same token, nothing was lost; otherwise the step is undone
   * (`undoRunAhead`) and its run was wasted. Only after a decision that let the pipeline select, with no
   * forced run queued, and when the token would not end the stream: a client that forces tokens does not
   * pay for a run it discards at every step. Selection is deterministic (seeded sampling included), so a
   * token chosen ahead is the one the same decision would have chosen after.
   */
  private runAhead(raw: Float32Array): number | undefined {
    if (!this.lastDecisionSelected || this.forcedQueue.length > 0 || this.plan.stop.watchesText) return undefined;
    let token: number;
    try {
      token = this.scoring.choose(raw, this.state.tokens, this.step, undefined);
    } catch {
      // An empty row, say: the client may still force a token; the step goes the usual way.
      return undefined;
    }
    if (this.wouldFinish(token)) return undefined;
    this.state.append(token);
    return token;
  }

  /** Whether taking `token` now would end the stream (stop strings aside): `finishReason` reads the ids taken. */
  private wouldFinish(token: number): boolean {
    this.generated.push(token);
    try {
      return this.finishReason(token) !== undefined;
    } finally {
      this.generated.pop();
    }
  }

  /** Waits for a step run ahead on a token the decision did not take, then takes that token back. */
  private async undoRunAhead(running: Promise<Float32Array>): Promise<void> {
    await running;
    // Its logits are known (`raw`): the cache keeps the token before it, so the next step runs one token.
    this.state.rewind(1, { keepLastCached: true });
  }

  /**
   * Starts the decoder for the step awaiting a token; the row it resolves with stays valid until the
   * step after next starts. A stream that ends while the step runs (cancel, a failed write) never awaits
   * it: its rejection is marked handled here and surfaces only where it is awaited.
   */
  private startStep(): Promise<Float32Array> {
    const row = this.computeStep();
    row.catch(() => {});
    return row;
  }

  private async computeStep(): Promise<Float32Array> {
    this.parts.signal.throwIfAborted();
    this.state.expectNext(this.nextTokenHint());
    const begin = performance.now();
    const [row] = await this.model.step([this.state]);
    // A cancel during the run disposes the state; the runtime then hands back an empty row.
    this.parts.signal.throwIfAborted();
    this.stepMs.push(performance.now() - begin);
    return row!;
  }

  /**
   * The token expected after the row about to be computed, so the model can run the step after it ahead
   * (`DecodeState.expectNext`): the next token of a forced run, else the greedy choice when the raw row
   * tells it. None when no step would follow (the stream's last token, stop strings that need the text
   * first), and in LOCKSTEP after a decision that forced a token (the client is steering; a guess would
   * mostly be wasted).
   */
  private nextTokenHint(): NextTokenHint | undefined {
    const step = this.state.tokens.length - 1 - this.plan.decoderPrefix.length;
    if (step + 1 >= this.plan.maxNewTokens || this.plan.stop.watchesText) return undefined;
    const forced = this.generated.length === step ? this.forcedQueue[0] : undefined;
    if (forced !== undefined) return this.endIds.includes(forced) ? undefined : { kind: 'token', token: forced };
    if (this.plan.mode === 'lockstep' && !this.lastDecisionSelected) return undefined;
    const lowered = this.scoring.argmaxKeptUnless();
    if (lowered === undefined) return undefined;
    if (this.greedyHint?.lowered !== lowered) {
      this.greedyHint = { lowered, hint: { kind: 'argmax', unless: [...this.endIds, ...lowered] } };
    }
    return this.greedyHint.hint;
  }

  /** The `StepLogits` of `step`, whose row is `raw`. */
  private stepLogits(raw: Float32Array, step: number): StepLogits {
    const format = this.plan.stream.rawLogits;
    switch (format.kind) {
      case 'float32':
        return { step, raw: float32Tensor(raw), top: undefined };
      case 'float16':
        this.float16Scratch ??= new Uint16Array(raw.length);
        return { step, raw: float16Tensor(raw, this.float16Scratch), top: undefined };
      case 'top-k':
        return { step, raw: undefined, top: topLogits(raw, format.k) };
      case 'none':
        return { step, raw: undefined, top: undefined };
    }
  }

  /** LOCKSTEP: the next token of a forced run, or exactly one client decision for this step. */
  private async lockstepAction(): Promise<StepAction> {
    const forced = this.forcedQueue.shift();
    if (forced !== undefined) return { kind: 'take', forced };
    const messages = this.parts.messages!;
    const request = await messages.next();
    // A client that half-closes while a step awaits its decision can never answer it: that is a stop.
    if (request === undefined) return { kind: 'stop' };
    const message = this.readMessage(request);
    if (message.$case === 'stop') return { kind: 'stop' };
    const decision = message.value;
    if (decision.step !== this.step) {
      throw failedPrecondition(
        `\`decision.step\` must be ${this.step} (the step awaiting a decision); given ${decision.step}`,
      );
    }
    const action = this.applyDecision(decision);
    if (action.kind === 'rewind') return action;
    this.forcedQueue = action.forced.slice(1);
    return { kind: 'take', forced: action.forced[0], pipelineChanged: action.pipelineChanged };
  }

  /**
   * AUTO: every client message already received applies from this step; nothing is waited for. Each
   * one's `Applied` joins `stepMessages`, to be sent after the step's logits.
   */
  private autoAction(stepMessages: Array<() => SessionMessage>): StepAction {
    const messages = this.parts.messages;
    for (let request = messages?.poll(); request !== undefined; request = messages?.poll()) {
      const messageIndex = this.messagesRead;
      const message = this.readMessage(request);
      if (message.$case === 'stop') return { kind: 'stop' };
      const fromStep = this.step;
      const action = this.applyDecision(message.value);
      const appliedFrom = action.kind === 'rewind' ? fromStep - action.count : fromStep;
      stepMessages.push(() => ({ $case: 'applied', value: { messageIndex, fromStep: appliedFrom } }));
      if (action.kind === 'rewind') return action;
      this.forcedQueue.push(...action.forced);
    }
    return { kind: 'take', forced: this.forcedQueue.shift() };
  }

  /** Checks a client message read after `Start` and returns its decision or stop. */
  private readMessage(
    request: DecodeRequest | MalformedRequest,
  ): { $case: 'decision'; value: StepDecision } | { $case: 'stop' } {
    this.messagesRead += 1;
    if (request instanceof MalformedRequest) throw malformedRequestError(request);
    const message = request.message;
    switch (message?.$case) {
      case 'decision':
        return message;
      case 'stop':
        return { $case: 'stop' };
      case 'start':
        throw failedPrecondition(`\`start\` may be sent only once; a second one arrived at step ${this.step}`);
      case undefined:
        throw invalidArgument('`message` must be set (start, decision or stop); given none');
    }
  }

  /**
   * Validates a decision against the current step and applies its pipeline changes; returns what to do
   * with the step's token. Nothing is applied when any part is invalid.
   */
  private applyDecision(decision: StepDecision): DecisionAction {
    const action = decision.action;
    const edits = decision.pipelineChanges.map((change, i) => pipelineEdit(change, `decision.pipeline_changes[${i}]`));
    const pipelineChanged = edits.length > 0;
    switch (action?.$case) {
      case 'accept':
        this.scoring.change(edits, 'decision.pipeline_changes');
        return { kind: 'take', forced: [], pipelineChanged };
      case 'forceToken':
        requireTokenId('decision.force_token.token_id', action.value.tokenId, this.model.info.vocabSize);
        if (this.step + this.forcedQueue.length >= this.plan.maxNewTokens) {
          throw invalidArgument(
            `\`decision.force_token\` cannot be taken: the forced tokens already queued reach \`max_new_tokens\` (${this.plan.maxNewTokens})`,
          );
        }
        this.scoring.change(edits, 'decision.pipeline_changes');
        return { kind: 'take', forced: [action.value.tokenId], pipelineChanged };
      case 'forceTokens': {
        const ids = action.value.tokenIds;
        const remaining = this.plan.maxNewTokens - this.step - this.forcedQueue.length;
        if (ids.length === 0 || ids.length > remaining) {
          throw invalidArgument(
            `\`decision.force_tokens.token_ids\` must hold [1, ${remaining}] ids (the tokens left before \`max_new_tokens\`); given ${ids.length}`,
          );
        }
        requireTokenIds('decision.force_tokens.token_ids', ids, this.model.info.vocabSize);
        this.scoring.change(edits, 'decision.pipeline_changes');
        return { kind: 'take', forced: ids, pipelineChanged };
      }
      case 'rewind': {
        const count = action.value.count;
        if (count < 1 || count > this.step) {
          throw outOfRange(
            `\`decision.rewind.count\` must be in [1, ${this.step}] (the tokens generated so far); given ${count}`,
          );
        }
        const scoped = edits.findIndex((edit) => edit.scope === 'this-step');
        if (scoped !== -1) {
          throw invalidArgument(
            `\`decision.pipeline_changes[${scoped}].scope\` cannot be THIS_STEP with a rewind (no token is chosen at this step); given THIS_STEP`,
          );
        }
        this.scoring.change(edits, 'decision.pipeline_changes');
        return { kind: 'rewind', count };
      }
      case undefined:
        throw invalidArgument(
          '`decision.action` must be set (accept, force_token, force_tokens or rewind); given none',
        );
    }
  }

  /** Cuts the last `count` tokens: the state's cache, the text, and any forced tokens still queued. */
  private rewind(count: number): void {
    this.state.rewind(count);
    this.generated.length -= count;
    this.detokenizer.rewind(count);
    this.forcedQueue = [];
  }

  /**
   * Why the stream ends with the token just taken, if it does. Without `textLengthBefore` (the text's
   * length before the token, once the token is detokenized) stop strings are not checked.
   */
  private finishReason(tokenId: number, textLengthBefore?: number): FinishReason | undefined {
    if (this.plan.eosIds.has(tokenId)) return FinishReason.FINISH_REASON_EOS;
    const text = textLengthBefore === undefined ? '' : this.detokenizer.text;
    if (this.plan.stop.reached(this.generated, text, textLengthBefore ?? 0)) {
      return FinishReason.FINISH_REASON_STOP_SEQUENCE;
    }
    if (this.generated.length >= this.plan.maxNewTokens) return FinishReason.FINISH_REASON_MAX_NEW_TOKENS;
    return undefined;
  }

  /** The `TokenChosen` of `step`, whose token was pushed last and added `text`. */
  private tokenChosen(step: number, text: string, score: StepScore): TokenChosen {
    return {
      step,
      tokenId: score.tokenId,
      text,
      logprob: score.logprob,
      rawLogprob: score.rawLogprob,
      source: score.forced ? TokenSource.TOKEN_SOURCE_FORCED : TokenSource.TOKEN_SOURCE_SELECTED,
      processedScores: score.processedScores && float32Tensor(score.processedScores),
      alternatives: score.alternatives.map((alternative) => ({
        tokenId: alternative.tokenId,
        // The text each alternative would have added, had it been taken instead of `tokenId`.
        text: this.detokenizer.peekInsteadOfLast(alternative.tokenId),
        logprob: alternative.logprob,
        rawLogprob: alternative.rawLogprob,
      })),
      entropy: score.entropy,
      rawEntropy: score.rawEntropy,
    };
  }

  private async finish(reason: FinishReason): Promise<void> {
    const { model, parts } = this;
    await parts.send({
      $case: 'finished',
      value: {
        reason,
        tokenIds: [...this.generated],
        text: decodeText(model.tokenizer, this.generated, true),
        timings: {
          encodeMs: parts.encoded.encodeMs,
          stepMs: this.stepMs,
          totalMs: performance.now() - parts.startedAt,
        },
      },
    });
  }
}

/** Turns one wire pipeline change into an edit; `field` names it in errors. */
function pipelineEdit(change: PipelineChange, field: string): PipelineEdit {
  const scope = editScope(change.scope, `${field}.scope`);
  const edit = change.change;
  switch (edit?.$case) {
    case 'add': {
      const processor = edit.value.processor;
      if (processor === undefined) throw invalidArgument(`\`${field}.add.processor\` must be set; given none`);
      return { kind: 'add', processor: fromWireProcessorSpec(processor, `${field}.add.processor`), index: edit.value.index, scope };
    }
    case 'replace':
      return { kind: 'replace', processor: fromWireProcessorSpec(edit.value, `${field}.replace`), scope };
    case 'remove':
      return { kind: 'remove', name: edit.value, scope };
    case undefined:
      throw invalidArgument(`\`${field}.change\` must be set (add, replace or remove); given none`);
  }
}

function editScope(scope: PipelineScope, field: string): EditScope {
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

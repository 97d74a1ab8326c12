/**
 * One decode stream, as a state machine over the runtime's decode state:
 *
 * ```
 *   Started ──► compute step t ──► StepLogits(t) ──► move ──► choose ──► TokenChosen(t) ──► ended? ──► Finished
 *                    ▲                                 │ │                                   │ no
 *                    │           rewind n (t ← t − n) ◄┘ └► stop ──► Finished                │
 *                    └───────────────────────────────────────────────────────────────────────┘
 * ```
 *
 * The move is where the modes differ. LOCKSTEP waits for exactly one client decision for step t (a forced
 * run supplies the decisions of its own steps) and never selects before it. AUTO takes every client
 * message that has already arrived, applies it from step t (the first step whose token is not chosen yet),
 * says so with `Applied`, and goes on without waiting.
 *
 * The raw row of step t is streamed as is and never modified: the processors work on the stream's working
 * copy (`StreamScoring`). Step t + 1 starts as soon as step t's token is known and the stream is known to
 * go on, so the decoder runs while step t is streamed and scored; row t stays valid until step t + 2
 * starts. Every write waits for the transport when it is full, so a slow client slows its own stream only.
 *
 * A LOCKSTEP client may fork the sequence (`decision.fork`): from then on the stream runs as branches,
 * this sequence being branch 0 (`BranchedDecode`, `BranchSet`). Until then every message names branch 0.
 *
 * Usage (what `SessionFactory.open` does):
 * ```ts
 * const session = new DecodeSession({ model, plan, scoring, started, encoded, send, messages, signal, startedAt, turns });
 * context.onEnd(() => session.dispose());
 * await session.run();   // Started, the steps, Finished; throws on a protocol error
 * ```
 */
import { performance } from 'node:perf_hooks';
import type { DecodeRequest } from '../gen/stepwise/v1/stepwise.js';
import type { StreamScoring } from '../processors/index.js';
import type { DecodeState, EncodedInput, ModelRuntime } from '../runtime/types.js';
import { BranchedDecode } from './branched-decode.js';
import { BranchSet, defaultBranchLimits, lastBranchDrop, requireFirstBranch, type BranchLimits } from './branch-set.js';
import type { ClientMessages } from './client-messages.js';
import { DecodeBranch, endCause } from './decode-branch.js';
import type { DecodePlan } from './decode-plan.js';
import { applyDecision, type DecisionContext } from './decision-rules.js';
import type { EventLoopTurns } from './event-loop-turns.js';
import { IncrementalDetokenizer } from './incremental-detokenizer.js';
import { NextTokenGuess } from './next-token-guess.js';
import type { MalformedRequest } from './service-definition.js';
import {
  appliedMessage,
  finishedMessage,
  readClientMessage,
  startedMessage,
  StepLogitsEncoder,
  tokenChosenMessage,
  type FinishCause,
  type StartedFacts,
} from './session-wire.js';
import { StepMessages, type SendMessage } from './step-messages.js';
import type { StreamObserver } from './stream-report.js';
import { failedPrecondition } from './status.js';
import { decodeText } from './text-decoding.js';
import { TokenLedger } from './token-ledger.js';

export interface DecodeSessionParts {
  /** The model; its `step` batches this stream with the others (the composition root's scheduler). */
  readonly model: ModelRuntime;
  readonly plan: DecodePlan;
  readonly scoring: StreamScoring;
  /** What `Started` reports beyond the plan. */
  readonly started: StartedFacts;
  readonly encoded: EncodedInput;
  readonly send: SendMessage;
  /** Client messages after `Start` (`Decode`); absent for `Generate`, which has none. */
  readonly messages: ClientMessages<DecodeRequest | MalformedRequest> | undefined;
  /** Raised when the call ends any other way (cancel, deadline, shutdown). */
  readonly signal: AbortSignal;
  /** `performance.now()` when `Start` arrived, for `Timings.total_ms`. */
  readonly startedAt: number;
  /** The server's turns of the event loop, shared by its streams. */
  readonly turns: EventLoopTurns;
  /** Hears of each decoder step and rewind (for the access log and the metrics). */
  readonly observer?: StreamObserver;
  /** What forks are held to; by default the default limits, with a budget of the stream's own. */
  readonly branchLimits?: BranchLimits;
}

/** What to do at the step awaiting a token. */
type Move =
  | { readonly kind: 'take'; readonly forced: number | undefined }
  | { readonly kind: 'rewind'; readonly count: number }
  | { readonly kind: 'fork'; readonly branch: number }
  | { readonly kind: 'stop' };

const STOP: Move = { kind: 'stop' };

/** A step's token taken: the stream ends (why), or goes on with the next step's row. */
type Taken =
  | { readonly ended: FinishCause; readonly next: undefined }
  | { readonly ended: undefined; readonly next: Promise<Float32Array> };

export class DecodeSession {
  private readonly state: DecodeState;
  private readonly ledger: TokenLedger;
  private readonly detokenizer: IncrementalDetokenizer;
  private readonly logits: StepLogitsEncoder | undefined;
  private readonly guess: NextTokenGuess;
  private readonly decisions: DecisionContext;
  /** Client messages read after `Start` (for `Applied.message_index`). */
  private messagesRead = 0;
  /** Whether the last token was forced in LOCKSTEP: the client is steering (no guess for the next step). */
  private steering = false;
  private readonly stepMs: number[] = [];
  /** The branches, once the client forked. */
  private branches: BranchSet | undefined;
  private disposed = false;

  constructor(private readonly parts: DecodeSessionParts) {
    const { model, plan, scoring } = parts;
    this.state = model.createState(parts.encoded, plan.decoderPrefix);
    this.ledger = new TokenLedger(plan.maxNewTokens);
    this.detokenizer = new IncrementalDetokenizer(model.tokenizer);
    this.logits = StepLogitsEncoder.sentEveryStep(plan) ? new StepLogitsEncoder(plan.stream.rawLogits) : undefined;
    this.guess = new NextTokenGuess(plan, scoring);
    this.decisions = {
      ledger: this.ledger,
      vocabSize: model.info.vocabSize,
      changePipeline: (changes, field) => scoring.change(changes, field),
    };
  }

  /** Frees the decode state (KV cache); idempotent, and safe while a step is running. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.branches?.dispose();
    this.state.dispose();
  }

  /** Runs the stream to its end: `Started`, the steps, then `Finished`. Throws on a protocol error. */
  async run(): Promise<void> {
    const { send, model, plan, started } = this.parts;
    await send(startedMessage(model.info, plan, started));
    let next = this.startStep();
    for (;;) {
      const raw = await next;
      const step = this.ledger.step;
      const messages = new StepMessages(send);
      if (this.logits !== undefined) messages.add(() => this.logits!.message(raw, step));
      const move = await messages.sentFirstOnError(() => (plan.mode === 'lockstep' ? this.lockstepMove(messages) : this.autoMove(messages)));
      if (move.kind === 'take') {
        const taken = await this.take(raw, move.forced, messages);
        if (taken.ended !== undefined) return this.finish(taken.ended);
        next = taken.next;
        continue;
      }
      await messages.flush();
      if (move.kind === 'stop') return this.finish('client-stop');
      if (move.kind === 'fork') return this.branchOut(raw, move.branch);
      this.rewind(move.count);
      next = this.startStep();
    }
  }

  /**
   * Chooses (or takes the forced) token of the step whose row is `raw` and streams the step; returns why
   * the stream ends with it, or the next step's row. When the stream is known to go on without the
   * token's text (no stop strings), the next step starts before this one is streamed and scored.
   */
  private async take(raw: Float32Array, forced: number | undefined, messages: StepMessages): Promise<Taken> {
    const step = this.ledger.step;
    const token = await messages.sentFirstOnError(() => this.parts.scoring.choose(raw, this.state.tokens, step, forced));
    this.state.append(token);
    this.ledger.take(token);
    if (this.parts.plan.mode === 'lockstep') this.steering = forced !== undefined;
    const early = !this.parts.plan.stop.watchesText && this.endCause(token, undefined) === undefined ? this.startStep() : undefined;
    // Streams whose rows arrived with this one choose their tokens (and start their next steps) before any
    // of them builds messages; then each sends its messages in a turn of its own.
    await this.parts.turns.next();
    await messages.flush();
    const textBefore = this.detokenizer.text.length;
    const text = this.detokenizer.push(token);
    const ended = this.endCause(token, textBefore);
    // Started early only when no text could end the stream; with stop strings, once the text is known.
    const next = ended === undefined ? (early ?? this.startStep()) : undefined;
    const score = this.parts.scoring.report(raw, token, forced !== undefined);
    this.parts.scoring.endStep();
    await this.parts.send(tokenChosenMessage(step, text, score, (id) => this.detokenizer.peekInsteadOfLast(id)));
    return ended !== undefined ? { ended, next: undefined } : { ended, next: next! };
  }

  /**
   * Starts the decoder for the step awaiting a token. A stream that ends while the step runs (cancel, a
   * failed write) never awaits it: its rejection is marked handled here and surfaces only where it is
   * awaited.
   */
  private startStep(): Promise<Float32Array> {
    const row = this.runStep();
    row.catch(() => {});
    return row;
  }

  private async runStep(): Promise<Float32Array> {
    this.parts.signal.throwIfAborted();
    this.state.expectNext(this.guess.hint(this.ledger, this.steering));
    const begin = performance.now();
    const [row] = await this.parts.model.step([this.state]);
    // A cancel during the run disposes the state; the runtime then hands back an empty row.
    this.parts.signal.throwIfAborted();
    const ms = performance.now() - begin;
    this.stepMs.push(ms);
    this.parts.observer?.stepComputed(ms);
    return row!;
  }

  /** LOCKSTEP: the next token of a forced run, or exactly one client decision for this step. */
  private async lockstepMove(messages: StepMessages): Promise<Move> {
    const forced = this.ledger.takeForced();
    if (forced !== undefined) return { kind: 'take', forced };
    await messages.flush();
    const step = this.ledger.step;
    const request = await this.parts.messages!.next(`decision for step ${step}`);
    // A client that half-closes while a step awaits its decision can never answer it: that is a stop.
    if (request === undefined) return STOP;
    this.messagesRead += 1;
    const move = readClientMessage(request, step);
    requireFirstBranch(move);
    if (move.kind === 'stop') return STOP;
    if (move.decision.step !== step) {
      throw failedPrecondition(`\`decision.step\` must be ${step} (the step awaiting a decision); given ${move.decision.step}`);
    }
    const action = applyDecision(move.decision, this.decisions);
    if (action.kind === 'rewind' || action.kind === 'fork') return action;
    if (action.kind === 'drop') throw lastBranchDrop(0);
    this.ledger.queueForced(action.forced.slice(1));
    return { kind: 'take', forced: action.forced[0] };
  }

  /**
   * AUTO: every client message already received applies from this step; nothing is waited for. Each one's
   * `Applied` joins the step's messages, after its logits.
   */
  private autoMove(messages: StepMessages): Move {
    const step = this.ledger.step;
    const incoming = this.parts.messages;
    for (let request = incoming?.poll(); request !== undefined; request = incoming?.poll()) {
      const messageIndex = this.messagesRead++;
      const move = readClientMessage(request, step);
      requireFirstBranch(move);
      if (move.kind === 'stop') return STOP;
      const action = applyDecision(move.decision, this.decisions);
      if (action.kind === 'fork' || action.kind === 'drop') {
        throw failedPrecondition(`\`decision.${action.kind}\` needs LOCKSTEP mode (branches advance on the client's decisions); this stream is AUTO`);
      }
      const fromStep = action.kind === 'rewind' ? step - action.count : step;
      messages.add(() => appliedMessage(messageIndex, fromStep));
      if (action.kind === 'rewind') return action;
      this.ledger.queueForced(action.forced);
    }
    return { kind: 'take', forced: this.ledger.takeForced() };
  }

  /** Cuts the last `count` tokens: the state's cache, the text, and any forced tokens still queued. */
  private rewind(count: number): void {
    this.state.rewind(count);
    this.ledger.rewind(count);
    this.detokenizer.rewind(count);
    this.parts.scoring.endStep();
    this.parts.observer?.rewound(count);
  }

  /**
   * Why the stream ends with `token`, just taken, if it does. Without `textBefore` (the text's length
   * before the token, once the token is detokenized) stop strings are not checked.
   */
  private endCause(token: number, textBefore: number | undefined): FinishCause | undefined {
    return endCause(this.parts.plan, this.ledger, this.detokenizer, token, textBefore);
  }

  /** The client forked at the step whose row is `raw`: the stream goes on as branches, this sequence as branch 0. */
  private async branchOut(raw: Float32Array, forkId: number): Promise<void> {
    const { model, plan, scoring, send, messages, signal, startedAt, encoded, observer } = this.parts;
    signal.throwIfAborted();
    const parts = { state: this.state, ledger: this.ledger, detokenizer: this.detokenizer, scoring, stepMs: this.stepMs, steering: this.steering };
    const first = new DecodeBranch(0, plan, model.info.vocabSize, parts);
    this.branches = new BranchSet(first, this.parts.branchLimits ?? defaultBranchLimits());
    const branched = new BranchedDecode({ model, branches: this.branches, logits: this.logits!, send, messages: messages!, signal, startedAt, encodeMs: encoded.encodeMs, observer });
    await branched.run(first, raw, forkId);
  }

  private async finish(cause: FinishCause): Promise<void> {
    const { model, send, encoded, startedAt } = this.parts;
    const ids = this.ledger.ids;
    const timings = { encodeMs: encoded.encodeMs, stepMs: this.stepMs, totalMs: performance.now() - startedAt };
    await send(finishedMessage(cause, ids, decodeText(model.tokenizer, ids, true), timings));
  }
}

/**
 * A LOCKSTEP decode stream once it has forked: several branches, each a sequence of its own
 * (`DecodeBranch`), that advance in rounds.
 *
 * ```
 *   rows of the branches that stepped ──► StepLogits(branch) each ──► one decision per awaiting branch,
 *        ▲                                                            in any order (fork, drop, take, rewind;
 *        │                                                            a forced run takes its tokens itself)
 *        └──── one model.step over every branch that took a token or rewound ◄──┘
 * ```
 *
 * Every message names its branch. A fork's copy awaits a decision for the same step as its parent, from
 * the parent's row (not sent again; `Forked` says so). Branches that end send their `Finished`; the stream
 * ends with its last branch. All the round's states go to the model in one `step` call, so branches at
 * the same position share one batched decoder run (the scheduler groups by position).
 *
 * Unlike the single-sequence loop (`DecodeSession`), no step starts before the whole round is decided:
 * a branch's next step waits for the others' decisions, so that they run together.
 */
import { performance } from 'node:perf_hooks';
import type { DecodeRequest } from '../gen/stepwise/v1/stepwise.js';
import type { ModelRuntime } from '../runtime/types.js';
import type { BranchSet } from './branch-set.js';
import type { ClientMessages } from './client-messages.js';
import type { DecodeBranch } from './decode-branch.js';
import { applyDecision } from './decision-rules.js';
import type { MalformedRequest } from './service-definition.js';
import {
  finishedMessage,
  forkedMessage,
  readClientMessage,
  tokenChosenMessage,
  type FinishCause,
  type StepLogitsEncoder,
} from './session-wire.js';
import type { SendMessage } from './step-messages.js';
import type { StreamObserver } from './stream-report.js';
import { failedPrecondition } from './status.js';
import { decodeText } from './text-decoding.js';

export interface BranchedDecodeParts {
  readonly model: ModelRuntime;
  readonly branches: BranchSet;
  readonly logits: StepLogitsEncoder;
  readonly send: SendMessage;
  readonly messages: ClientMessages<DecodeRequest | MalformedRequest>;
  readonly signal: AbortSignal;
  /** `performance.now()` when `Start` arrived, and the encoder's time, for `Timings`. */
  readonly startedAt: number;
  readonly encodeMs: number;
  readonly observer?: StreamObserver;
}

export class BranchedDecode {
  /** Branches awaiting a decision, with the row of the step they await it for. */
  private readonly awaiting = new Map<number, Float32Array>();
  /** Branches decided this round, whose next row the next run computes. */
  private toStep: DecodeBranch[] = [];

  constructor(private readonly parts: BranchedDecodeParts) {}

  /** Runs from the first fork (`parent` awaits a decision for the step whose row is `raw`) to the stream's end. */
  async run(parent: DecodeBranch, raw: Float32Array, forkId: number): Promise<void> {
    this.awaiting.set(parent.id, raw);
    await this.fork(parent, forkId, raw);
    for (;;) {
      await this.decideRound();
      if (this.parts.branches.size === 0) return;
      await this.stepRound();
    }
  }

  /** Until no branch awaits a decision: forced runs take their next token, the others wait for the client. */
  private async decideRound(): Promise<void> {
    while (this.awaiting.size > 0) {
      const forced = [...this.awaiting.keys()].map((id) => this.parts.branches.get(id, 'branch')).find((branch) => branch.ledger.nextForced !== undefined);
      if (forced !== undefined) {
        await this.take(forced, this.awaiting.get(forced.id)!, forced.ledger.takeForced());
        continue;
      }
      const waitingFor = [...this.awaiting.keys()].join(', ');
      const request = await this.parts.messages.next(`decision for branches ${waitingFor}`);
      // A client that half-closes while steps await decisions can never answer them: that is a stop.
      if (request === undefined) return this.stopAll();
      await this.handle(request);
    }
  }

  private async handle(request: DecodeRequest | MalformedRequest): Promise<void> {
    const { branches } = this.parts;
    const move = readClientMessage(request, Math.min(...branches.branches().map((branch) => branch.step)));
    if (move.kind === 'stop') return this.end(branches.get(move.branch, 'stop.branch'), 'client-stop');
    const { decision } = move;
    const branch = branches.get(decision.branch, 'decision.branch');
    const raw = this.awaiting.get(branch.id);
    if (raw === undefined) {
      const awaiting = [...this.awaiting.keys()].join(', ');
      throw failedPrecondition(
        `\`decision.branch\` must name a branch awaiting a decision (${awaiting}); given ${branch.id}, whose step is decided until the others' are`,
      );
    }
    if (decision.step !== branch.step) {
      throw failedPrecondition(`\`decision.step\` must be ${branch.step} (the step branch ${branch.id} awaits a decision for); given ${decision.step}`);
    }
    const action = applyDecision(decision, branch.decisions);
    switch (action.kind) {
      case 'fork':
        return this.fork(branch, action.branch, raw);
      case 'drop':
        branches.drop(branch.id);
        this.awaiting.delete(branch.id);
        return;
      case 'rewind':
        branch.rewind(action.count);
        this.parts.observer?.rewound(action.count);
        this.awaiting.delete(branch.id);
        this.toStep.push(branch);
        return;
      case 'take':
        branch.ledger.queueForced(action.forced.slice(1));
        return this.take(branch, raw, action.forced[0]);
    }
  }

  private async fork(parent: DecodeBranch, id: number, raw: Float32Array): Promise<void> {
    const child = this.parts.branches.fork(parent, id);
    this.awaiting.set(child.id, raw);
    await this.parts.send(forkedMessage(child.id, parent.id, parent.step));
  }

  private async take(branch: DecodeBranch, raw: Float32Array, forced: number | undefined): Promise<void> {
    const taken = branch.take(raw, forced);
    this.awaiting.delete(branch.id);
    const textInstead = (id: number) => branch.detokenizer.peekInsteadOfLast(id);
    await this.parts.send(tokenChosenMessage(taken.step, taken.text, taken.score, textInstead, branch.id));
    if (taken.ended !== undefined) return this.end(branch, taken.ended);
    this.toStep.push(branch);
  }

  /** One `step` call over every branch decided this round; their rows go out as they will be decided. */
  private async stepRound(): Promise<void> {
    // In id order: the same branches run in the same batch order from round to round.
    const stepping = this.toStep.sort((a, b) => a.id - b.id);
    this.toStep = [];
    this.parts.signal.throwIfAborted();
    for (const branch of stepping) branch.state.expectNext(branch.nextHint());
    const begin = performance.now();
    const rows = await this.parts.model.step(stepping.map((branch) => branch.state));
    // A cancel during the run disposes the states; the runtime then hands back empty rows.
    this.parts.signal.throwIfAborted();
    const ms = performance.now() - begin;
    for (const [index, branch] of stepping.entries()) {
      branch.stepMs.push(ms);
      this.parts.observer?.stepComputed(ms);
      this.awaiting.set(branch.id, rows[index]!);
      await this.parts.send(this.parts.logits.message(rows[index]!, branch.step, branch.id));
    }
  }

  /** Every live branch ends at the client's word, in id order. */
  private async stopAll(): Promise<void> {
    for (const branch of this.parts.branches.branches()) await this.end(branch, 'client-stop');
  }

  /** Sends the branch's `Finished` and frees it. */
  private async end(branch: DecodeBranch, cause: FinishCause): Promise<void> {
    this.awaiting.delete(branch.id);
    this.toStep = this.toStep.filter((other) => other !== branch);
    this.parts.branches.end(branch.id);
    const ids = branch.ledger.ids;
    const timings = { encodeMs: this.parts.encodeMs, stepMs: branch.stepMs, totalMs: performance.now() - this.parts.startedAt };
    const text = decodeText(this.parts.model.tokenizer, ids, true);
    await this.parts.send(finishedMessage(cause, ids, text, timings, branch.id));
  }
}

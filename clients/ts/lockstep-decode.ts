/**
 * The lockstep loop as one call: `decide` answers every step that awaits a decision; iterating yields each
 * decoded step with its raw logits and its token; `result()` runs to the end and returns the outcome.
 *
 * ```ts
 * const run = client.decode({ text: 'translate English to German: Hello' }, (step) =>
 *   step.step === 0 ? force(363) : accept(),
 * );
 * for await (const { step, logits, token } of run) console.log(step, token.text, logits![token.tokenId]);
 * const { finished } = await run.result();
 * ```
 *
 * A `fork(newBranch)` decision copies the step's branch; `decide` is then asked again for the same step of
 * both (`step.branch` tells which), and `drop()` ends a branch. Each branch keeps its own `tokenIds`;
 * decoded steps carry their branch.
 */
import type { Decision } from './decisions.js';
import type { StepEvent } from './decode-events.js';
import type { DecodeSession } from './decode-session.js';
import type { Finished, Started, TokenChosen, TopLogits } from './proto.js';

/** One step once its token is known. */
export interface DecodedStep {
  readonly step: number;
  /** The branch that took the token (0 unless a decision forked). */
  readonly branch: number;
  /** The step's raw logits (FLOAT32/FLOAT16 formats); a view for FLOAT32. */
  readonly logits: Float32Array | undefined;
  /** The highest raw logits (TOP_K format). */
  readonly top: TopLogits | undefined;
  readonly token: TokenChosen;
}

/** What `decide` knows besides the step itself. */
export interface DecideContext {
  readonly started: Started;
  /** The tokens the step's branch generated so far (after any rewinds). */
  readonly tokenIds: readonly number[];
}

/** Answers one step awaiting a decision. */
export type DecideStep = (step: StepEvent, context: DecideContext) => Decision | Promise<Decision>;

/** How a lockstep decode ended. */
export interface DecodeResult {
  readonly started: Started;
  readonly finished: Finished;
}

export class LockstepDecode implements AsyncIterable<DecodedStep> {
  private readonly steps: AsyncGenerator<DecodedStep, void, undefined>;
  private iterated = false;

  constructor(
    private readonly session: DecodeSession,
    private readonly decideStep: DecideStep,
  ) {
    this.steps = this.run();
  }

  /** The decoded steps, in order (a step rewound away was yielded before the rewind); once. */
  [Symbol.asyncIterator](): AsyncIterator<DecodedStep> {
    if (this.iterated) throw new Error('a lockstep decode can be iterated only once');
    this.iterated = true;
    return this.steps;
  }

  /** Runs the decode to its end (or what is left of it) and returns how it ended. */
  async result(): Promise<DecodeResult> {
    this.iterated = true;
    for await (const _ of this.steps); // the steps themselves are not kept
    const { started, finished } = this.session;
    if (started === undefined || finished === undefined) {
      throw new Error('the decode was abandoned before it finished (its steps were left early)');
    }
    return { started, finished };
  }

  private async *run(): AsyncGenerator<DecodedStep, void, undefined> {
    const tokenIds = new Map<number, number[]>([[0, []]]);
    const pendingSteps = new Map<string, StepEvent>();
    for await (const event of this.session) {
      if (event.kind === 'step') {
        pendingSteps.set(`${event.branch}:${event.step}`, event);
        if (event.awaitsDecision) await this.answer(event, tokenIds, pendingSteps);
      } else if (event.kind === 'token') {
        const { token, branch } = event;
        tokenIds.get(branch)!.push(token.tokenId);
        const step = pendingSteps.get(`${branch}:${token.step}`);
        pendingSteps.delete(`${branch}:${token.step}`);
        yield { step: token.step, branch, logits: step?.logits, top: step?.top, token };
      }
    }
  }

  /** Sends `decide`'s answer to `event`; after a fork, the answers of both branches. */
  private async answer(event: StepEvent, tokenIds: Map<number, number[]>, pendingSteps: Map<string, StepEvent>): Promise<void> {
    const branchIds = tokenIds.get(event.branch)!;
    const decision = await this.decideStep(event, { started: this.session.started!, tokenIds: [...branchIds] });
    this.session.decide(event.step, decision, event.branch);
    if (decision.action === 'rewind') branchIds.splice(branchIds.length - decision.count, decision.count);
    if (decision.action === 'drop') {
      tokenIds.delete(event.branch);
      pendingSteps.delete(`${event.branch}:${event.step}`);
    }
    if (decision.action === 'fork') {
      tokenIds.set(decision.newBranch, [...branchIds]);
      const copy: StepEvent = { ...event, branch: decision.newBranch };
      pendingSteps.set(`${copy.branch}:${copy.step}`, copy);
      await this.answer(event, tokenIds, pendingSteps);
      await this.answer(copy, tokenIds, pendingSteps);
    }
  }
}

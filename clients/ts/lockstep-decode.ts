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
 */
import type { Decision } from './decisions.js';
import type { StepEvent } from './decode-events.js';
import type { DecodeSession } from './decode-session.js';
import type { Finished, Started, TokenChosen, TopLogits } from './proto.js';

/** One step once its token is known. */
export interface DecodedStep {
  readonly step: number;
  /** The step's raw logits (FLOAT32/FLOAT16 formats); a view for FLOAT32. */
  readonly logits: Float32Array | undefined;
  /** The highest raw logits (TOP_K format). */
  readonly top: TopLogits | undefined;
  readonly token: TokenChosen;
}

/** What `decide` knows besides the step itself. */
export interface DecideContext {
  readonly started: Started;
  /** The tokens generated so far (after any rewinds). */
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
    const tokenIds: number[] = [];
    const pendingSteps = new Map<number, StepEvent>();
    for await (const event of this.session) {
      if (event.kind === 'step') {
        pendingSteps.set(event.step, event);
        if (!event.awaitsDecision) continue;
        const decision = await this.decideStep(event, { started: this.session.started!, tokenIds });
        this.session.decide(event.step, decision);
        if (decision.action === 'rewind') tokenIds.splice(tokenIds.length - decision.count, decision.count);
      } else if (event.kind === 'token') {
        tokenIds.push(event.token.tokenId);
        const step = pendingSteps.get(event.token.step);
        pendingSteps.delete(event.token.step);
        yield { step: event.token.step, logits: step?.logits, top: step?.top, token: event.token };
      }
    }
  }
}

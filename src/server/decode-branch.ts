/**
 * One sequence of a decode stream: its decode state (KV cache), its tokens and budget (`TokenLedger`), its
 * text so far, its pipeline and scoring, and how its next token is guessed. A stream starts with branch
 * 0; `fork` copies a branch into a new one that then goes on on its own (`BranchSet` keeps them).
 */
import type { StreamScoring, StepScore } from '../processors/index.js';
import type { DecodeState, NextTokenHint } from '../runtime/types.js';
import type { DecisionContext } from './decision-rules.js';
import type { DecodePlan } from './decode-plan.js';
import { IncrementalDetokenizer } from './incremental-detokenizer.js';
import { NextTokenGuess } from './next-token-guess.js';
import type { FinishCause } from './session-wire.js';
import type { TokenLedger } from './token-ledger.js';

export interface BranchParts {
  readonly state: DecodeState;
  readonly ledger: TokenLedger;
  readonly detokenizer: IncrementalDetokenizer;
  readonly scoring: StreamScoring;
  /** Decoder step times so far, for `Finished.timings` (a fork starts with its parent's). */
  readonly stepMs: number[];
  /** Whether the last token was forced in LOCKSTEP (no guess for the next step). */
  readonly steering: boolean;
}

/** A step's token taken: what `TokenChosen` reports, and why the branch ends with it, if it does. */
export interface TakenToken {
  readonly step: number;
  readonly text: string;
  readonly score: StepScore;
  readonly ended: FinishCause | undefined;
}

export class DecodeBranch {
  readonly state: DecodeState;
  readonly ledger: TokenLedger;
  readonly detokenizer: IncrementalDetokenizer;
  readonly scoring: StreamScoring;
  readonly stepMs: number[];
  readonly decisions: DecisionContext;
  private readonly guess: NextTokenGuess;
  private steering: boolean;

  constructor(
    readonly id: number,
    private readonly plan: DecodePlan,
    /** The model's logits width (forced ids are checked against it). */
    private readonly vocabSize: number,
    parts: BranchParts,
  ) {
    ({ state: this.state, ledger: this.ledger, detokenizer: this.detokenizer, scoring: this.scoring, stepMs: this.stepMs } = parts);
    this.steering = parts.steering;
    this.guess = new NextTokenGuess(plan, this.scoring);
    const scoring = this.scoring;
    this.decisions = {
      ledger: this.ledger,
      vocabSize,
      changePipeline: (changes, field) => scoring.change(changes, field),
    };
  }

  /** The step awaiting a token. */
  get step(): number {
    return this.ledger.step;
  }

  /** A copy of this branch as it stands (its KV cache copied: `DecodeState.fork`), with id `id`. */
  fork(id: number): DecodeBranch {
    const state = this.state.fork();
    return new DecodeBranch(id, this.plan, this.vocabSize, {
      state,
      ledger: this.ledger.copy(),
      detokenizer: this.detokenizer.copy(),
      scoring: this.scoring.fork(),
      stepMs: [...this.stepMs],
      steering: this.steering,
    });
  }

  /** The hint for the row the next step computes (`DecodeState.expectNext`). */
  nextHint(): NextTokenHint | undefined {
    return this.guess.hint(this.ledger, this.steering);
  }

  /** Chooses (or takes the forced) token of the step whose row is `raw`, and scores it. */
  take(raw: Float32Array, forced: number | undefined): TakenToken {
    const step = this.ledger.step;
    const token = this.scoring.choose(raw, this.state.tokens, step, forced);
    this.state.append(token);
    this.ledger.take(token);
    this.steering = forced !== undefined;
    const textBefore = this.detokenizer.text.length;
    const text = this.detokenizer.push(token);
    const ended = endCause(this.plan, this.ledger, this.detokenizer, token, textBefore);
    const score = this.scoring.report(raw, token, forced !== undefined);
    this.scoring.endStep();
    return { step, text, score, ended };
  }

  /** Cuts the last `count` tokens: the cache, the text, and any forced tokens still queued. */
  rewind(count: number): void {
    this.state.rewind(count);
    this.ledger.rewind(count);
    this.detokenizer.rewind(count);
    this.scoring.endStep();
  }

  dispose(): void {
    this.state.dispose();
  }
}

/**
 * Why a sequence ends with `token`, just taken, if it does. Without `textBefore` (the text's length
 * before the token, once the token is detokenized) stop strings are not checked.
 */
export function endCause(
  plan: DecodePlan,
  ledger: TokenLedger,
  detokenizer: IncrementalDetokenizer,
  token: number,
  textBefore: number | undefined,
): FinishCause | undefined {
  if (plan.eosIds.has(token)) return 'eos';
  const text = textBefore === undefined ? '' : detokenizer.text;
  if (plan.stop.reached(ledger.ids, text, textBefore ?? 0)) return 'stop-sequence';
  if (ledger.spent) return 'max-new-tokens';
  return undefined;
}

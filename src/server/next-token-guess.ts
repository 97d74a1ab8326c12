/**
 * The token a stream expects after the row it is about to compute, told to the model with the step
 * (`DecodeState.expectNext`) so that the model thread can run the following step ahead on it while the
 * serving thread streams and scores this one (`runtime/worker/run-ahead.ts`). A guess that misses costs
 * that run, never a different result.
 *
 * The guess is the next token of a forced run, or else, for a greedy pipeline that keeps the raw argmax
 * unless it is one of a few ids (`StreamScoring.argmaxKeptUnless`), "the raw row's argmax unless one of
 * those ids". No guess when no step would follow (the stream's last token, an id that ends the stream,
 * stop strings that need the text first), and in LOCKSTEP after a decision that forced a token: the client
 * is steering, and a guess would mostly be wasted.
 */
import type { StreamScoring } from '../processors/index.js';
import type { NextTokenHint } from '../runtime/types.js';
import type { DecodePlan } from './decode-plan.js';
import type { TokenLedger } from './token-ledger.js';

export class NextTokenGuess {
  /** The ids that end the stream (EOS, the last id of a stop sequence): no step follows them. */
  private readonly endIds: readonly number[];
  /** The argmax hint for the pipeline whose lowered ids are `lowered` (pipelines change rarely; steps do not). */
  private argmaxHint: { readonly lowered: readonly number[]; readonly hint: NextTokenHint } | undefined;

  constructor(
    private readonly plan: DecodePlan,
    private readonly scoring: Pick<StreamScoring, 'argmaxKeptUnless'>,
  ) {
    this.endIds = [...plan.eosIds, ...plan.stop.sequenceEnds];
  }

  /**
   * The hint for the row of step `ledger.step`, about to be computed. `steering`: the last LOCKSTEP
   * decision forced a token.
   */
  hint(ledger: Pick<TokenLedger, 'step' | 'maxNewTokens' | 'nextForced'>, steering: boolean): NextTokenHint | undefined {
    if (ledger.step + 1 >= ledger.maxNewTokens || this.plan.stop.watchesText) return undefined;
    const forced = ledger.nextForced;
    if (forced !== undefined) return this.endIds.includes(forced) ? undefined : { kind: 'token', token: forced };
    if (steering) return undefined;
    const lowered = this.scoring.argmaxKeptUnless();
    if (lowered === undefined) return undefined;
    if (this.argmaxHint?.lowered !== lowered) {
      this.argmaxHint = { lowered, hint: { kind: 'argmax', unless: [...this.endIds, ...lowered] } };
    }
    return this.argmaxHint.hint;
  }
}

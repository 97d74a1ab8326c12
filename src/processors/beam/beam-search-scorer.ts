/**
 * Beam search with the semantics of Hugging Face's `generate()` (`GenerationMixin._beam_search` and its
 * helpers in `generation/utils.py` @ 000034a44ef8, the version processors.md reads), for one input, on the
 * processed log-probability rows the caller computes for each live beam (log-softmax of the raw row, then
 * the pipeline with that beam's history). Pure: no model, no I/O; the caller runs the decoder for the beams
 * this returns.
 *
 * One step, as Hugging Face does it:
 * 1. every live beam's row plus the beam's score; the `K = max(2, 1 + number of EOS ids) × num_beams` best
 *    continuations over all beams (`topCandidates`);
 * 2. a continuation "hits a stopping criterion" when its token is an EOS id or when it reaches
 *    `max_new_tokens`;
 * 3. the next live beams: the `num_beams` best continuations, those that hit a criterion lowered by 1e9 (so
 *    they are taken only when fewer than `num_beams` others exist);
 * 4. of the first `num_beams` continuations, those that hit a criterion join the finished beams with
 *    `score = logprob_sum / (generated length ** length_penalty)`, the length counting the generated tokens
 *    with the EOS token and without the decoder prompt (Hugging Face's `cur_len + 1 - decoder_prompt_len`;
 *    the former `BeamSearchScorer` counted it differently across releases, from `hyp.shape[-1]` to a
 *    `generated_len` argument);
 *    the finished beams keep the best `num_beams` (slots not yet filled hold -1e9, so a finished beam
 *    scoring lower than that is dropped, as in Hugging Face);
 * 5. the search is over when the best live beam cannot improve the finished ones any more: its score
 *    divided by `length ** length_penalty`, with `length` the generated length so far — or `max_new_tokens`
 *    when `early_stopping` is "never" and `length_penalty` > 0 — is not above the worst finished score (while
 *    fewer than `num_beams` have finished, the worst is -1e9); with `early_stopping` true, also as soon as
 *    `num_beams` beams have finished; and when every continuation hit a criterion (`max_new_tokens`).
 *
 * At the first step every beam is the decoder prompt: beam 0 scores 0 and the others -1e9, so the first
 * continuations all come from beam 0 unless it has fewer than K finite ones (then copies follow, as in
 * Hugging Face). The caller may pass one row for all of them.
 *
 * Scores are summed in float64 (Hugging Face sums in float32); ties are broken by the lower index.
 *
 * Usage:
 * ```ts
 * const search = new BeamSearchScorer({
 *   numBeams: 4, lengthPenalty: 1, earlyStopping: false, numReturnSequences: 2, eosIds: new Set([1]), maxNewTokens: 20,
 * });
 * while (!done) {
 *   const rows = search.beams.map((beam, b) => processedLogProbs(b));   // one row per live beam
 *   const outcome = search.step(rows);   // outcome.next[i]: live beam i continues beam `source` with `token`
 *   done = outcome.done;
 * }
 * const returned = search.result();      // best first: tokens, score, logprobSum, reason
 * ```
 */
import { topCandidates } from './top-candidates.js';

/** Hugging Face's `early_stopping`: true, false or "never". */
export type EarlyStopping = boolean | 'never';

export interface BeamSearchSettings {
  /** At least 2 (one beam is greedy decoding, which Hugging Face does without beam search). */
  readonly numBeams: number;
  readonly lengthPenalty: number;
  readonly earlyStopping: EarlyStopping;
  /** How many finished beams `result` returns, in [1, numBeams]. */
  readonly numReturnSequences: number;
  readonly eosIds: ReadonlySet<number>;
  /** Hugging Face's `max_length` less the decoder prompt. */
  readonly maxNewTokens: number;
}

/** A live beam: its generated tokens and its sum of processed log-probabilities. */
export interface LiveBeam {
  readonly tokens: readonly number[];
  readonly score: number;
}

/** Why a returned sequence ended. */
export type BeamEnd = 'eos' | 'max-new-tokens' | 'client-stop';

/** A sequence the search returns. */
export interface FinishedBeam {
  readonly tokens: readonly number[];
  /** `logprobSum / tokens.length ** length_penalty` (Hugging Face's `sequences_scores`). */
  readonly score: number;
  readonly logprobSum: number;
  readonly end: BeamEnd;
}

/** Live beam `i` of the next step continues live beam `source` of this one with `token`. */
export interface BeamMove {
  readonly source: number;
  readonly token: number;
}

export interface BeamStepOutcome {
  /** One per next live beam, best first. */
  readonly next: readonly BeamMove[];
  /** Whether the search is over (no step follows). */
  readonly done: boolean;
}

/** Highest score first; stable for equal scores (infinities included). */
function byScore(a: { readonly score: number }, b: { readonly score: number }): number {
  return a.score > b.score ? -1 : a.score < b.score ? 1 : 0;
}

/** Hugging Face's stand-in for "minus infinity, but still comparable". */
export const BEAM_SENTINEL = -1.0e9;

/** A finished-beams slot: empty (score -1e9) until a finished beam takes it. */
type Slot = { readonly beam: FinishedBeam | undefined; readonly score: number };

export class BeamSearchScorer {
  private live: LiveBeam[];
  private slots: Slot[];
  /** Hugging Face's `is_early_stop_heuristic_unsatisfied`. */
  private improvable = true;
  private readonly keep: number;

  constructor(private readonly settings: BeamSearchSettings) {
    const { numBeams } = settings;
    this.live = Array.from({ length: numBeams }, (_, b) => ({ tokens: [], score: b === 0 ? 0 : BEAM_SENTINEL }));
    this.slots = Array.from({ length: numBeams }, () => ({ beam: undefined, score: BEAM_SENTINEL }));
    this.keep = Math.max(2, 1 + settings.eosIds.size) * numBeams;
  }

  /** The live beams, best first (at the start: the decoder prompt, `numBeams` times). */
  get beams(): readonly LiveBeam[] {
    return this.live;
  }

  /** How many finished beams are kept (at most `numBeams`). */
  get finishedCount(): number {
    return this.slots.filter((slot) => slot.beam !== undefined).length;
  }

  /** Takes one step from each live beam's processed log-probability row (`rows[b]` for `beams[b]`). */
  step(rows: readonly Float32Array[]): BeamStepOutcome {
    const { numBeams, eosIds, maxNewTokens, earlyStopping } = this.settings;
    const generated = this.live[0]!.tokens.length + 1;
    const candidates = topCandidates(rows, this.live.map((beam) => beam.score), this.keep);
    const hits = candidates.map((candidate) => eosIds.has(candidate.token) || generated >= maxNewTokens);
    const next = candidates
      .map((candidate, k) => ({ candidate, score: candidate.logprobSum + (hits[k] ? BEAM_SENTINEL : 0) }))
      .sort(byScore)
      .slice(0, numBeams);
    const full = this.allFinished() && earlyStopping === true;
    if (this.improvable && !full) {
      this.addFinished(candidates.slice(0, numBeams).filter((_, k) => hits[k]), generated);
    }
    this.live = next.map(({ candidate, score }) => ({ tokens: [...this.live[candidate.source]!.tokens, candidate.token], score }));
    this.improvable &&= this.canImprove(generated);
    const done = !this.improvable || (this.allFinished() && earlyStopping === true) || hits.every(Boolean);
    return { next: next.map(({ candidate }) => ({ source: candidate.source, token: candidate.token })), done };
  }

  /** The finished beams to return, best first: at most `numReturnSequences`. */
  result(): FinishedBeam[] {
    return this.finished().slice(0, this.settings.numReturnSequences);
  }

  /**
   * The sequences to return when the search is stopped before its end (the client's stop): the finished
   * beams and the live ones scored as if they ended here (as Hugging Face's former `BeamSearchScorer.finalize`
   * did with the beams still open), best first.
   */
  stoppedResult(): FinishedBeam[] {
    const open = this.live
      .filter((beam) => beam.tokens.length > 0 && beam.score > BEAM_SENTINEL)
      .map((beam): FinishedBeam => {
        const score = this.lengthScore(beam.score, beam.tokens.length);
        return { tokens: beam.tokens, logprobSum: beam.score, score, end: 'client-stop' };
      });
    return [...this.finished(), ...open].sort(byScore).slice(0, this.settings.numReturnSequences);
  }

  private finished(): FinishedBeam[] {
    return this.slots.flatMap((slot) => (slot.beam === undefined ? [] : [slot.beam]));
  }

  private allFinished(): boolean {
    return this.slots.every((slot) => slot.beam !== undefined);
  }

  private lengthScore(logprobSum: number, length: number): number {
    return logprobSum / length ** this.settings.lengthPenalty;
  }

  private addFinished(ended: readonly { source: number; token: number; logprobSum: number }[], generated: number): void {
    const fresh = ended.map((candidate): Slot => {
      const tokens = [...this.live[candidate.source]!.tokens, candidate.token];
      const score = this.lengthScore(candidate.logprobSum, generated);
      const end = this.settings.eosIds.has(candidate.token) ? 'eos' : 'max-new-tokens';
      return { beam: { tokens, score, logprobSum: candidate.logprobSum, end }, score };
    });
    // Stable: a slot already held (or empty at -1e9) wins a tie against a newcomer.
    this.slots = [...this.slots, ...fresh].sort(byScore).slice(0, this.settings.numBeams);
  }

  /** Hugging Face's `_check_early_stop_heuristic`, after a step that generated the `generated`-th token. */
  private canImprove(generated: number): boolean {
    const { earlyStopping, lengthPenalty, maxNewTokens } = this.settings;
    const length = earlyStopping === 'never' && lengthPenalty > 0 ? maxNewTokens : generated;
    const bestPossible = this.live[0]!.score / length ** lengthPenalty;
    const worst = Math.min(...this.slots.map((slot) => slot.score));
    return this.slots.some((slot) => bestPossible > (slot.beam !== undefined ? worst : BEAM_SENTINEL));
  }
}

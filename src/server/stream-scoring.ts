/**
 * What a decode session needs from the processors for one stream: the pipeline in force, changes to it,
 * and, for every step, the processed scores, the token (selected, or forced by the client) and the
 * statistics the client asked for. The session knows nothing of how processors run or how tokens are
 * drawn; `ProcessorScoring` implements this over the processors module.
 */
import type { ProcessorSpec } from '../processors/types.js';

/** Where a pipeline change applies. */
export type PipelineScope = 'this-step' | 'from-now-on';

/** One pipeline change, as the client asked for it (parameters still unvalidated). */
export type PipelineEdit =
  | { readonly kind: 'add'; readonly processor: ProcessorSpec; readonly index: number | undefined; readonly scope: PipelineScope }
  | { readonly kind: 'replace'; readonly processor: ProcessorSpec; readonly scope: PipelineScope }
  | { readonly kind: 'remove'; readonly name: string; readonly scope: PipelineScope };

/** A candidate token with its log-probabilities. */
export interface ScoredToken {
  readonly tokenId: number;
  /** Under the processed distribution. */
  readonly logprob: number;
  /** Under the raw distribution. */
  readonly rawLogprob: number;
}

/** The result of one step's processing. */
export interface StepScore extends ScoredToken {
  readonly forced: boolean;
  /** The processed row (the stream's working copy; valid until the next `choose`), when asked for. */
  readonly processedScores: Float32Array | undefined;
  /** The most likely tokens under the processed distribution, most likely first, when asked for. */
  readonly alternatives: readonly ScoredToken[];
  /** Entropies in nats, when asked for. */
  readonly entropy: number | undefined;
  readonly rawEntropy: number | undefined;
}

export interface StreamScoring {
  /** The pipeline in force (after this step's temporary changes, if any), in order. */
  pipeline(): readonly ProcessorSpec[];
  /**
   * Validates and applies changes in order; `field` names them in errors (e.g. "decision.pipeline_changes").
   * Nothing changes when one of them is invalid.
   */
  change(edits: readonly PipelineEdit[], field: string): void;
  /**
   * Runs the pipeline for `step` on a working copy of `raw` (which stays untouched) and returns the
   * forced token, or the selected one when `forced` is undefined. Only what the token needs is computed
   * here, so a stream can start its next decoder step right after; `report` computes the rest.
   */
  choose(raw: Float32Array, history: readonly number[], step: number, forced: number | undefined): number;
  /**
   * The scores and statistics of the token `choose` returned, for the same `raw` row (which must still be
   * valid) and the processed scores `choose` left in the working copy (valid until the next `choose`).
   */
  report(raw: Float32Array, tokenId: number, forced: boolean): StepScore;
  /** Ends the step: changes scoped to it are undone. */
  endStep(): void;
  /**
   * When `choose` will select the raw row's argmax (highest finite score, lowest id on ties) unless it is
   * one of the returned ids, from the next step on with the pipeline in force now: greedy selection over
   * processors that keep the argmax or lower only listed ids. Undefined when the raw row does not tell
   * (sampling, or a processor that can move the maximum).
   */
  argmaxKeptUnless(): readonly number[] | undefined;
}

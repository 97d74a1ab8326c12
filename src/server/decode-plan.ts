/**
 * What a stream was asked to do, once `Start` is validated: the shape `DecodeSession` runs. Everything
 * here is checked and resolved (defaults applied, enums turned into names), so the session never
 * re-validates.
 */
import type { BeamPlan } from './beam-request.js';
import type { StopConditions } from './stop-conditions.js';

/** The wire format of each step's raw logits. */
export type RawLogitsFormat =
  | { readonly kind: 'float32' }
  | { readonly kind: 'float16' }
  | { readonly kind: 'top-k'; readonly k: number }
  | { readonly kind: 'none' };

/** What the stream sends back besides the chosen token. */
export interface StreamPlan {
  readonly rawLogits: RawLogitsFormat;
  readonly processedScores: boolean;
  readonly topNAlternatives: number;
  readonly entropy: boolean;
}

export interface DecodePlan {
  /** Encoder input ids (with `</s>` when the input was text). */
  readonly inputIds: readonly number[];
  /** Tokens fed after the decoder start token before the first step. */
  readonly decoderPrefix: readonly number[];
  readonly maxNewTokens: number;
  /** Ids that end the stream with reason EOS (the model's EOS ids). */
  readonly eosIds: ReadonlySet<number>;
  readonly stop: StopConditions;
  readonly stream: StreamPlan;
  /** LOCKSTEP waits for one decision per step; AUTO decodes on. */
  readonly mode: 'lockstep' | 'auto';
  /** A beam search (AUTO mode only); absent for one sequence. */
  readonly beams?: BeamPlan | undefined;
}

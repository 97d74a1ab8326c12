/**
 * The messages of a `Decode` or `Generate` stream as events: a discriminated union on `kind`, with each
 * step's raw logits already readable as a `Float32Array`.
 */
import { rawLogitsOf } from './logits.js';
import type { Applied, BeamStep, DecodeResponse, Finished, Forked, GenerateResponse, Started, StepLogits, TokenChosen, TopLogits } from './proto.js';

/** The stream was accepted: what the server resolved (vocabulary size, pipeline, seed, mode...). */
export interface StartedEvent {
  readonly kind: 'started';
  readonly started: Started;
}

/** A step's raw logits; in lockstep mode, usually also the request for its decision. */
export interface StepEvent {
  readonly kind: 'step';
  /** Number of tokens generated before this step. */
  readonly step: number;
  /** The branch whose step this is (0 unless the stream forked). */
  readonly branch: number;
  /** Whether the server waits for a decision on this step (lockstep, and not inside a forced run). */
  readonly awaitsDecision: boolean;
  /** The raw logits (`vocab_size` floats) for the FLOAT32 and FLOAT16 formats; a view for FLOAT32. */
  readonly logits: Float32Array | undefined;
  /** The highest raw logits for the TOP_K format. */
  readonly top: TopLogits | undefined;
  /** The message as received. */
  readonly message: StepLogits;
}

/** A `fork` decision made `branch`, a copy of `fromBranch` as it awaited `step` (whose logits are not sent again). */
export interface ForkedEvent {
  readonly kind: 'forked';
  readonly branch: number;
  readonly fromBranch: number;
  readonly step: number;
}

/** The token taken at a step, with what the stream options asked for. */
export interface TokenEvent {
  readonly kind: 'token';
  /** The branch that took it (0 unless the stream forked). */
  readonly branch: number;
  readonly token: TokenChosen;
}

/** Auto mode: a client message took effect from `applied.fromStep`. */
export interface AppliedEvent {
  readonly kind: 'applied';
  readonly applied: Applied;
}

/** The end of the stream (with branches: of `branch`; the last live branch's ends the stream): reason, ids, text, timings. */
export interface FinishedEvent {
  readonly kind: 'finished';
  /** The branch that ended (0 unless the stream forked). */
  readonly branch: number;
  readonly finished: Finished;
}

/** Beam search: the live beams after a step (their ids so far and scores), best first. */
export interface BeamStepEvent {
  readonly kind: 'beam-step';
  readonly beamStep: BeamStep;
}

export type DecodeEvent = StartedEvent | StepEvent | ForkedEvent | TokenEvent | AppliedEvent | FinishedEvent | BeamStepEvent;

/** The event of one server message; `awaitsDecision` is decided by the session that reads the stream. */
export function toDecodeEvent(response: DecodeResponse | GenerateResponse, awaitsDecision: boolean): DecodeEvent {
  const message = response.message;
  switch (message?.$case) {
    case 'started':
      return { kind: 'started', started: message.value };
    case 'logits':
      return {
        kind: 'step',
        step: message.value.step,
        branch: message.value.branch,
        awaitsDecision,
        logits: rawLogitsOf(message.value),
        top: message.value.top,
        message: message.value,
      };
    case 'forked':
      return forkedEvent(message.value);
    case 'token':
      return { kind: 'token', branch: message.value.branch, token: message.value };
    case 'applied':
      return { kind: 'applied', applied: message.value };
    case 'finished':
      return { kind: 'finished', branch: message.value.branch, finished: message.value };
    case 'beamStep':
      return { kind: 'beam-step', beamStep: message.value };
    default:
      throw new Error('the server sent a stream message with no content');
  }
}

function forkedEvent(forked: Forked): ForkedEvent {
  return { kind: 'forked', branch: forked.branch, fromBranch: forked.fromBranch, step: forked.step };
}

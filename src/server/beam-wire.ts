/**
 * A beam search stream's own messages, built from the search's values: the settings `Started` echoes,
 * each step's live beams (`BeamStep`) and the returned sequences in `Finished`.
 */
import { EarlyStopping, type BeamSearch, type Finished } from '../gen/stepwise/v1/stepwise.js';
import type { FinishedBeam, LiveBeam } from '../processors/index.js';
import type { TextTokenizer } from '../runtime/types.js';
import type { BeamPlan } from './beam-request.js';
import { FINISH_REASONS, type FinishCause, type SessionMessage } from './session-wire.js';
import { decodeText } from './text-decoding.js';

export function beamSearchMessage(plan: BeamPlan): BeamSearch {
  const early = plan.earlyStopping;
  return {
    numBeams: plan.numBeams,
    lengthPenalty: plan.lengthPenalty,
    earlyStopping: early === 'never' ? EarlyStopping.EARLY_STOPPING_NEVER : early ? EarlyStopping.EARLY_STOPPING_TRUE : EarlyStopping.EARLY_STOPPING_FALSE,
    numReturnSequences: plan.numReturnSequences,
  };
}

export function beamStepMessage(step: number, beams: readonly LiveBeam[], finishedCount: number): SessionMessage {
  return {
    $case: 'beamStep',
    value: { step, beams: beams.map((beam) => ({ tokenIds: [...beam.tokens], score: beam.score })), finishedCount },
  };
}

/** `Finished` of a beam search: the first returned sequence's ids and text, and every returned sequence. */
export function beamFinishedMessage(
  cause: FinishCause,
  returned: readonly FinishedBeam[],
  tokenizer: TextTokenizer,
  timings: Finished['timings'],
): SessionMessage {
  const sequences = returned.map((beam) => ({
    tokenIds: [...beam.tokens],
    text: decodeText(tokenizer, beam.tokens, true),
    score: beam.score,
    logprobSum: beam.logprobSum,
    reason: FINISH_REASONS[beam.end],
  }));
  const best = sequences[0];
  return { $case: 'finished', value: { reason: FINISH_REASONS[cause], tokenIds: best?.tokenIds ?? [], text: best?.text ?? '', timings, sequences, branch: 0 } };
}

/** Beam search as Hugging Face's `generate()` does it: the pure search and the rows it selects from. */
export {
  BEAM_SENTINEL,
  BeamSearchScorer,
  type BeamEnd,
  type BeamMove,
  type BeamSearchSettings,
  type BeamStepOutcome,
  type EarlyStopping,
  type FinishedBeam,
  type LiveBeam,
} from './beam-search-scorer.js';
export { BeamLogProbs, logSoftmax, type BeamLogProbsParts } from './beam-log-probs.js';
export { topCandidates, type Candidate } from './top-candidates.js';

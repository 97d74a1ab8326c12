/**
 * Stepwise's TypeScript client: open a decode, read every step's raw logits as a `Float32Array`, answer
 * each step (accept, force, reconfigure, rewind, stop), with deadlines and cancellation by `AbortSignal`,
 * score given targets in one teacher-forced pass (`score`, `scoreBatch`), over plaintext or TLS (mutual TLS
 * included) with a bearer token.
 */
export { DEFAULT_CHANNEL_OPTIONS, StepwiseClient, type StepwiseClientOptions } from './stepwise-client.js';
export { DEFAULT_SERVER, bearerTokenInterceptor, channelCredentials, type ClientTls } from './channel-security.js';
export { DecodeSession } from './decode-session.js';
export { LockstepDecode, type DecodedStep, type DecideContext, type DecideStep, type DecodeResult } from './lockstep-decode.js';
export type { DecodeEvent, StartedEvent, StepEvent, ForkedEvent, TokenEvent, AppliedEvent, FinishedEvent, BeamStepEvent } from './decode-events.js';
export type { DecodeStart, StreamInput, RawLogitsFormat } from './start-options.js';
export type { ParamInput, ProcessorInput } from './param-values.js';
export {
  accept,
  force,
  reconfigure,
  rewind,
  stop,
  fork,
  drop,
  addProcessor,
  replaceProcessor,
  removeProcessor,
  type Decision,
  type PipelineChangeInput,
  type ChangeScope,
} from './decisions.js';
export { StepwiseCallError, type ModelCallOptions, type StepwiseCallOptions } from './call-options.js';
export { rawLogitsOf, tensorToFloat32, logSumExp, probabilityOf, entropyOf, topKIds } from './logits.js';
export {
  toScoreRequest,
  toScoreResult,
  type ScoreInput,
  type ScoreTargetInput,
  type ScoreResult,
  type ScoredTarget,
  type ScoredToken,
} from './score.js';
export { NpyMatrixWriter, encodeNpyFloat32Header } from './npy-writer.js';
export {
  FinishReason,
  TokenSource,
  type Alternative,
  type Finished,
  type GetModelInfoResponse,
  type ModelDescription,
  type ScoreTimings,
  type Started,
  type TokenChosen,
  type TopLogits,
} from './proto.js';

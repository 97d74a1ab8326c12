/**
 * Stepwise's TypeScript client: open a decode, read every step's raw logits as a `Float32Array`, answer
 * each step (accept, force, reconfigure, rewind, stop), with deadlines and cancellation by `AbortSignal`,
 * over plaintext or TLS (mutual TLS included) with a bearer token.
 */
export { DEFAULT_CHANNEL_OPTIONS, StepwiseClient, type StepwiseClientOptions } from './stepwise-client.js';
export { DEFAULT_SERVER, bearerTokenInterceptor, channelCredentials, type ClientTls } from './channel-security.js';
export { DecodeSession } from './decode-session.js';
export { LockstepDecode, type DecodedStep, type DecideContext, type DecideStep, type DecodeResult } from './lockstep-decode.js';
export type { DecodeEvent, StartedEvent, StepEvent, TokenEvent, AppliedEvent, FinishedEvent, BeamStepEvent } from './decode-events.js';
export type { DecodeStart, StreamInput, RawLogitsFormat } from './start-options.js';
export type { ParamInput, ProcessorInput } from './param-values.js';
export {
  accept,
  force,
  reconfigure,
  rewind,
  stop,
  addProcessor,
  replaceProcessor,
  removeProcessor,
  type Decision,
  type PipelineChangeInput,
  type ChangeScope,
} from './decisions.js';
export { StepwiseCallError, type StepwiseCallOptions } from './call-options.js';
export { rawLogitsOf, tensorToFloat32, logSumExp, probabilityOf, entropyOf, topKIds } from './logits.js';
export { NpyMatrixWriter, encodeNpyFloat32Header } from './npy-writer.js';
export { FinishReason, TokenSource, type Finished, type Started, type TokenChosen } from './proto.js';

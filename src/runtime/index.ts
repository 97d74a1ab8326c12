/**
 * Public surface of the runtime: load a T5 model folder, encode, step the decoder, rewind.
 * See `types.ts` for a usage example; nothing here knows of gRPC or logits processors.
 */
export { loadModel, DEFAULT_MAX_INPUT_LENGTH } from './load-model.js';
export { ModelRuntimeError, ModelFolderError, InvalidInputError, OutOfRangeError, StateError } from './errors.js';
export type {
  DecodeState,
  EncodedInput,
  GenerationDefaults,
  LoadModelOptions,
  ModelDtype,
  ModelRuntime,
  SpecialIds,
  T5Config,
  TextTokenizer,
} from './types.js';

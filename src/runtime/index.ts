/**
 * The runtime: loads a T5 model folder (Optimum / transformers.js layout), encodes once, steps the
 * decoder with its KV cache, rewinds by slicing the cache, and scores whole targets in one decoder pass
 * (`score`). It knows nothing of gRPC or logits
 * processors; it shares only the greedy rule with them (`processors/selection/argmax.ts`), which the
 * model thread applies when it runs a greedy stream's next step ahead.
 *
 * ```ts
 * const model = await loadModel('.cache/models/tiny-relu-untied');   // throws ModelFolderError
 * await model.warmUp();
 * const [encoded] = await model.encode([model.tokenizer.encode('translate English to German: Hi')]);
 * const state = model.createState(encoded);
 * for (let i = 0; i < 20; i++) {
 *   const [logits] = await model.step([state]);  // Float32Array view, model.vocabSize floats
 *   const next = argmax(logits);
 *   state.append(next);                          // or any forced id; state.rewind(n) cuts back
 *   if (next === model.specialIds.eos) break;
 * }
 * state.dispose();
 * await model.dispose();
 * ```
 */
export { loadModel, DEFAULT_MAX_INPUT_LENGTH, INTRA_OP_SPINNING, isIntraOpSpinning, spinningSessionEntries } from './load-model.js';
export { readModelConfig } from './model-config.js';
export { DTYPE_SUFFIXES, formatDtypeChoice, parseDtypeChoice } from './model-files.js';
export { SCORE_RUN_LOGITS_BYTES, scoreRunRows } from './score-runs.js';
export { HuggingFaceTextTokenizer } from './text-tokenizer.js';
export {
  DEFAULT_SCHEDULER_OPTIONS,
  StepScheduler,
  type SchedulerRun,
  type SchedulerRunListener,
  emptySchedulerStats,
  type SchedulerStats,
  type StepSchedulerOptions,
} from './step-scheduler.js';
export * from './worker/index.js';
export { startModuleWorker } from './worker/module-worker.js';
export { ModelRuntimeError, ModelFolderError, InvalidInputError, ModelUnavailableError, OutOfRangeError, StateError } from './errors.js';
export type {
  DecodeState,
  DtypeByFile,
  EncodedInput,
  GenerationDefaults,
  IntraOpSpinning,
  LoadModelOptions,
  ModelDtype,
  ModelDtypeChoice,
  ModelInfo,
  ModelRuntime,
  ModelStatus,
  ModelStatusEvent,
  ModelStatusListener,
  NextTokenHint,
  RewindOptions,
  ScoreTarget,
  SpecialIds,
  T5Config,
  TextTokenizer,
} from './types.js';

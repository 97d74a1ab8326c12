/**
 * The processors room's public API: the contract, the registry and plugins, pipelines (explicit or from a
 * Hugging Face generation config), token selection and score statistics.
 */
export type {
  LogitsProcessor,
  ParamType,
  ParamValue,
  ParameterSpec,
  ProcessorDefinition,
  ProcessorSpec,
  StaticContext,
  StepContext,
} from './types.js';
export {
  DuplicateProcessorError,
  EmptyDistributionError,
  PipelineError,
  PluginLoadError,
  ProcessorParameterError,
  RequestFieldError,
  UnknownProcessorError,
  isPipelineRefusal,
  namingField,
} from './errors.js';
export { defineProcessor, type ProcessorBlueprint, type Reject } from './define-processor.js';
export { PROCESSOR_LIMITS, type ProcessorLimits } from './limits.js';
export type { Bound, IntMapEntry, ParamSchema, ParamSchemas, ParamsOf, SequenceBiasEntry } from './parameters.js';
export {
  boolParam,
  floatParam,
  intListParam,
  intParam,
  listParam,
  paramFromJson,
  paramsFromJson,
  processorSpec,
  stringParam,
} from './param-values.js';
export { BUILTIN_PROCESSORS } from './builtin/index.js';
export { ProcessorRegistry, registerBuiltinProcessors, type ProcessorDescription } from './registry.js';
export { loadProcessorPlugins, type ProcessorPluginApi } from './plugins.js';
export {
  Pipeline,
  type PipelineChange,
  type PipelineScope,
  type PipelineStage,
  type PreparedChange,
  type ProcessorLookup,
} from './pipeline.js';
export {
  buildHfPipeline,
  hfGenerationPipeline,
  hfSettingsFromJson,
  withoutSamplingSettings,
  type HfGenerationSettings,
  type HfPipelineOptions,
  type HfPipelinePlan,
} from './hf-generation-config.js';
export { selectGreedy } from './selection/greedy.js';
// The row arithmetic built-ins use, for plugins that need the same (and the benchmark that times it).
export { exponentialSums, exponentialSumsResult, rowMaximum, sumExp } from './math/softmax-basis.js';
export { finiteMaximum } from './selection/finite.js';
export { SeededDraws, sampleFromScores, sampleWithSummary, type Sample } from './selection/sampling.js';
export { counterUniform } from './selection/counter-random.js';
export { createTokenSelector, type SelectionConfig, type TokenSelector } from './selection/token-selector.js';
export {
  entropy,
  logProbability,
  summarizeScores,
  summaryWithRestored,
  topAlternatives,
  type Alternative,
  type ScoreSummary,
} from './selection/score-statistics.js';
export { StreamScorer } from './selection/stream-scorer.js';
export {
  StreamScoring,
  type ReportOptions,
  type ScoredToken,
  type StepScore,
  type StreamScoringParts,
} from './stream-scoring.js';
export * from './beam/index.js';

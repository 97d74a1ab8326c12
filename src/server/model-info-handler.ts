/**
 * `GetModelInfo`: a served model's name, vocabulary, special ids, architecture, loaded files and the limits of
 * requests to it (the default model, or the one `model` names).
 */
import { inject, injectable } from 'tsyringe';
import type { GetModelInfoRequest, GetModelInfoResponse } from '../gen/stepwise/v1/stepwise.js';
import { LOGGER, MODEL_CATALOG } from '../tokens.js';
import type { Logger } from './logger.js';
import type { CatalogModel, ModelCatalog } from './model-catalog.js';
import { PROCESSOR_LIMITS } from '../processors/index.js';
import { formatDtypeChoice } from '../runtime/index.js';
import { specialTokenIds } from './special-ids.js';
import { unaryHandler } from './unary-call.js';

/** The processors' list bounds, by the "processor.parameter" they hold for. */
const PROCESSOR_LIST_LIMITS: { [field: string]: number } = {
  'ban_tokens.token_ids': PROCESSOR_LIMITS.tokenIds,
  'allow_tokens.token_ids': PROCESSOR_LIMITS.tokenIds,
  'suppress_tokens.suppress_tokens': PROCESSOR_LIMITS.tokenIds,
  'begin_suppress_tokens.begin_suppress_tokens': PROCESSOR_LIMITS.tokenIds,
  'bad_words_ids.bad_words_ids': PROCESSOR_LIMITS.tokenSequences,
  'bad_words_ids.bad_words_ids[i]': PROCESSOR_LIMITS.tokenSequenceLength,
  'sequence_bias.sequence_bias': PROCESSOR_LIMITS.tokenSequences,
  'sequence_bias.sequence_bias[i]': PROCESSOR_LIMITS.tokenSequenceLength,
  'force_token_at.schedule': PROCESSOR_LIMITS.forcedSteps,
  'choice.choices': PROCESSOR_LIMITS.choices,
  'choice.choices.total_characters': PROCESSOR_LIMITS.choiceCharacters,
  'regex.pattern.characters': PROCESSOR_LIMITS.regexPatternCharacters,
  'regex.automaton_states': PROCESSOR_LIMITS.regexDfaStates,
};

@injectable()
export class ModelInfoHandler {
  /** The grpc-js handler. */
  readonly handle: ReturnType<typeof unaryHandler<GetModelInfoRequest, GetModelInfoResponse>>;

  constructor(
    @inject(MODEL_CATALOG) private readonly catalog: ModelCatalog,
    @inject(LOGGER) logger: Logger,
  ) {
    this.handle = unaryHandler('GetModelInfo', logger, (request: GetModelInfoRequest) => describeModel(this.catalog.resolve(request.model)));
  }
}

/** What `GetModelInfo` (and each of `ListModels`' entries) says of a served model. */
export function describeModel({ name, runtime: model, limits }: CatalogModel): GetModelInfoResponse {
  const config = model.info.config;
  return {
    name,
    vocabSize: model.info.vocabSize,
    tokenizerSize: model.tokenizer.size,
    specialIds: specialTokenIds(model.info.specialIds),
    maxInputLength: model.info.maxInputLength,
    config: {
      modelType: config.modelType,
      numLayers: config.numLayers,
      numDecoderLayers: config.numDecoderLayers,
      numHeads: config.numHeads,
      dModel: config.dModel,
      dKv: config.dKv,
      dFf: config.dFf,
      feedForwardProj: config.feedForwardProj,
      tieWordEmbeddings: config.tieWordEmbeddings,
    },
    limits: {
      maxConcurrentStreams: limits.maxConcurrentStreams,
      maxInputTokens: limits.maxInputTokens,
      maxNewTokens: limits.maxNewTokens,
      maxReceiveMessageBytes: limits.maxReceiveMessageBytes,
      maxInputBytes: limits.maxInputBytes,
      maxStopSequences: limits.maxStopSequences,
      maxStopStringLength: limits.maxStopStringLength,
      maxProcessors: PROCESSOR_LIMITS.pipelineProcessors,
      maxPipelineChanges: PROCESSOR_LIMITS.pipelineChanges,
      maxTopNAlternatives: limits.maxTopNAlternatives,
      maxDetokenizeIds: limits.maxDetokenizeIds,
      maxScoreTargets: limits.maxScoreTargets,
      maxScoreTokens: limits.maxScoreTokens,
      maxBeams: limits.maxBeams,
      maxBranchesPerStream: limits.maxBranchesPerStream,
      maxTotalBranches: limits.maxTotalBranches,
      processorListLimits: PROCESSOR_LIST_LIMITS,
    },
    dtype: formatDtypeChoice(model.info.dtype),
    decoderLayout: model.info.decoderLayout,
  };
}

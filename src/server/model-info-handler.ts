/** `GetModelInfo`: the served model's name, vocabulary, special ids, architecture and the server's limits. */
import { inject, injectable } from 'tsyringe';
import type { GetModelInfoRequest, GetModelInfoResponse } from '../gen/stepwise/v1/stepwise.js';
import type { ModelRuntime } from '../runtime/types.js';
import { LOGGER, MODEL_RUNTIME, SERVER_LIMITS } from '../tokens.js';
import type { Logger } from './logger.js';
import type { ServerLimits } from './server-limits.js';
import { specialTokenIds } from './special-ids.js';
import { unaryHandler } from './unary-call.js';

@injectable()
export class ModelInfoHandler {
  /** The grpc-js handler. */
  readonly handle: ReturnType<typeof unaryHandler<GetModelInfoRequest, GetModelInfoResponse>>;

  constructor(
    @inject(MODEL_RUNTIME) private readonly model: ModelRuntime,
    @inject(SERVER_LIMITS) private readonly limits: ServerLimits,
    @inject(LOGGER) logger: Logger,
  ) {
    this.handle = unaryHandler('GetModelInfo', logger, (request: GetModelInfoRequest) => this.describe(request));
  }

  describe(_request?: GetModelInfoRequest): GetModelInfoResponse {
    const { model, limits } = this;
    const config = model.info.config;
    return {
      name: model.info.name,
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
        maxProcessors: limits.maxProcessors,
        maxPipelineChanges: limits.maxPipelineChanges,
        maxTopNAlternatives: limits.maxTopNAlternatives,
        maxDetokenizeIds: limits.maxDetokenizeIds,
        processorListLimits: {},
      },
    };
  }
}

/** `ListModels`: every model the server hosts, the default first, each described as `GetModelInfo` does. */
import { inject, injectable } from 'tsyringe';
import type { ListModelsRequest, ListModelsResponse } from '../gen/stepwise/v1/stepwise.js';
import { LOGGER, MODEL_CATALOG } from '../tokens.js';
import type { Logger } from './logger.js';
import type { ModelCatalog } from './model-catalog.js';
import { describeModel } from './model-info-handler.js';
import { unaryHandler } from './unary-call.js';

@injectable()
export class ListModelsHandler {
  /** The grpc-js handler. */
  readonly handle: ReturnType<typeof unaryHandler<ListModelsRequest, ListModelsResponse>>;

  constructor(
    @inject(MODEL_CATALOG) private readonly catalog: ModelCatalog,
    @inject(LOGGER) logger: Logger,
  ) {
    this.handle = unaryHandler('ListModels', logger, () => ({
      models: this.catalog.models.map((model) => ({ name: model.name, isDefault: model.isDefault, info: describeModel(model) })),
    }));
  }
}

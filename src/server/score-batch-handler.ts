/** `ScoreBatch`: `Score` for several inputs in one call, sharing their encoder and decoder runs. */
import { performance } from 'node:perf_hooks';
import { inject, injectable } from 'tsyringe';
import type { ScoreBatchRequest, ScoreBatchResponse } from '../gen/stepwise/v1/stepwise.js';
import { LOGGER, MODEL_CATALOG } from '../tokens.js';
import type { Logger } from './logger.js';
import type { ModelCatalog, CatalogModel } from './model-catalog.js';
import { resolveScoreBatchCall } from './score-request.js';
import { ScoreRunner } from './score-runner.js';
import { invalidArgument } from './status.js';
import { asyncUnaryHandler } from './unary-call.js';

@injectable()
export class ScoreBatchHandler {
  /** The grpc-js handler. */
  readonly handle: ReturnType<typeof asyncUnaryHandler<ScoreBatchRequest, ScoreBatchResponse>>;

  constructor(
    @inject(MODEL_CATALOG) private readonly catalog: ModelCatalog,
    @inject(ScoreRunner) private readonly runner: ScoreRunner,
    @inject(LOGGER) logger: Logger,
  ) {
    this.handle = asyncUnaryHandler('ScoreBatch', logger, (request: ScoreBatchRequest, signal) => this.scoreBatch(request, signal));
  }

  async scoreBatch(request: ScoreBatchRequest, signal: AbortSignal): Promise<ScoreBatchResponse> {
    const startedAt = performance.now();
    const { runtime, limits } = this.sharedModel(request);
    const plans = resolveScoreBatchCall(request.requests, runtime, limits);
    return { responses: await this.runner.run(runtime, plans, signal, startedAt) };
  }

  /** The one model a batch's requests choose: they share its encoder and decoder runs. */
  private sharedModel(request: ScoreBatchRequest): CatalogModel {
    const first = this.catalog.resolve(request.requests[0]?.model ?? '', 'requests[0].model');
    for (const [index, each] of request.requests.entries()) {
      const model = this.catalog.resolve(each.model, `requests[${index}].model`);
      if (model !== first) {
        throw invalidArgument(
          `\`requests[${index}].model\` must choose the same model as \`requests[0].model\` ("${first.name}"): one batch runs on one model; given ${JSON.stringify(each.model)}`,
        );
      }
    }
    return first;
  }
}

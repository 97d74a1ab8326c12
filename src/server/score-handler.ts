/** `Score`: a target's (or several targets') scores for one input, in one teacher-forced decoder pass. */
import { performance } from 'node:perf_hooks';
import { inject, injectable } from 'tsyringe';
import type { ScoreRequest, ScoreResponse } from '../gen/stepwise/v1/stepwise.js';
import { LOGGER, MODEL_CATALOG } from '../tokens.js';
import type { Logger } from './logger.js';
import type { ModelCatalog } from './model-catalog.js';
import { resolveScoreCall } from './score-request.js';
import { ScoreRunner } from './score-runner.js';
import { asyncUnaryHandler } from './unary-call.js';

@injectable()
export class ScoreHandler {
  /** The grpc-js handler. */
  readonly handle: ReturnType<typeof asyncUnaryHandler<ScoreRequest, ScoreResponse>>;

  constructor(
    @inject(MODEL_CATALOG) private readonly catalog: ModelCatalog,
    @inject(ScoreRunner) private readonly runner: ScoreRunner,
    @inject(LOGGER) logger: Logger,
  ) {
    this.handle = asyncUnaryHandler('Score', logger, (request: ScoreRequest, signal) => this.score(request, signal));
  }

  async score(request: ScoreRequest, signal: AbortSignal): Promise<ScoreResponse> {
    const startedAt = performance.now();
    const { runtime, limits } = this.catalog.resolve(request.model);
    const plan = resolveScoreCall(request, runtime, limits);
    const [response] = await this.runner.run(runtime, [plan], signal, startedAt);
    return response!;
  }
}

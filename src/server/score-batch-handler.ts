/** `ScoreBatch`: `Score` for several inputs in one call, sharing their encoder and decoder runs. */
import { performance } from 'node:perf_hooks';
import { inject, injectable } from 'tsyringe';
import type { ScoreBatchRequest, ScoreBatchResponse } from '../gen/stepwise/v1/stepwise.js';
import type { ModelRuntime } from '../runtime/types.js';
import { LOGGER, MODEL_RUNTIME, SERVER_LIMITS } from '../tokens.js';
import type { Logger } from './logger.js';
import { resolveScoreBatchCall } from './score-request.js';
import { ScoreRunner } from './score-runner.js';
import type { ServerLimits } from './server-limits.js';
import { asyncUnaryHandler } from './unary-call.js';

@injectable()
export class ScoreBatchHandler {
  /** The grpc-js handler. */
  readonly handle: ReturnType<typeof asyncUnaryHandler<ScoreBatchRequest, ScoreBatchResponse>>;

  constructor(
    @inject(MODEL_RUNTIME) private readonly model: ModelRuntime,
    @inject(SERVER_LIMITS) private readonly limits: ServerLimits,
    @inject(ScoreRunner) private readonly runner: ScoreRunner,
    @inject(LOGGER) logger: Logger,
  ) {
    this.handle = asyncUnaryHandler('ScoreBatch', logger, (request: ScoreBatchRequest, signal) => this.scoreBatch(request, signal));
  }

  async scoreBatch(request: ScoreBatchRequest, signal: AbortSignal): Promise<ScoreBatchResponse> {
    const startedAt = performance.now();
    const plans = resolveScoreBatchCall(request.requests, this.model, this.limits);
    return { responses: await this.runner.run(plans, signal, startedAt) };
  }
}

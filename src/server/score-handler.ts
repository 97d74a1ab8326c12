/** `Score`: a target's (or several targets') scores for one input, in one teacher-forced decoder pass. */
import { performance } from 'node:perf_hooks';
import { inject, injectable } from 'tsyringe';
import type { ScoreRequest, ScoreResponse } from '../gen/stepwise/v1/stepwise.js';
import type { ModelRuntime } from '../runtime/types.js';
import { LOGGER, MODEL_RUNTIME, SERVER_LIMITS } from '../tokens.js';
import type { Logger } from './logger.js';
import { resolveScoreCall } from './score-request.js';
import { ScoreRunner } from './score-runner.js';
import type { ServerLimits } from './server-limits.js';
import { asyncUnaryHandler } from './unary-call.js';

@injectable()
export class ScoreHandler {
  /** The grpc-js handler. */
  readonly handle: ReturnType<typeof asyncUnaryHandler<ScoreRequest, ScoreResponse>>;

  constructor(
    @inject(MODEL_RUNTIME) private readonly model: ModelRuntime,
    @inject(SERVER_LIMITS) private readonly limits: ServerLimits,
    @inject(ScoreRunner) private readonly runner: ScoreRunner,
    @inject(LOGGER) logger: Logger,
  ) {
    this.handle = asyncUnaryHandler('Score', logger, (request: ScoreRequest, signal) => this.score(request, signal));
  }

  async score(request: ScoreRequest, signal: AbortSignal): Promise<ScoreResponse> {
    const startedAt = performance.now();
    const plan = resolveScoreCall(request, this.model, this.limits);
    const [response] = await this.runner.run([plan], signal, startedAt);
    return response!;
  }
}

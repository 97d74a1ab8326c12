/** `Detokenize`: ids → text, with or without special tokens. */
import { inject, injectable } from 'tsyringe';
import type { DetokenizeRequest, DetokenizeResponse } from '../gen/stepwise/v1/stepwise.js';
import type { ModelRuntime } from '../runtime/types.js';
import { LOGGER, MODEL_RUNTIME, SERVER_LIMITS } from '../tokens.js';
import type { Logger } from './logger.js';
import { requireTokenIds } from './request-checks.js';
import type { ServerLimits } from './server-limits.js';
import { invalidArgument } from './status.js';
import { decodeText } from './text-decoding.js';
import { unaryHandler } from './unary-call.js';

@injectable()
export class DetokenizeHandler {
  /** The grpc-js handler. */
  readonly handle: ReturnType<typeof unaryHandler<DetokenizeRequest, DetokenizeResponse>>;

  constructor(
    @inject(MODEL_RUNTIME) private readonly model: ModelRuntime,
    @inject(SERVER_LIMITS) private readonly limits: ServerLimits,
    @inject(LOGGER) logger: Logger,
  ) {
    this.handle = unaryHandler('Detokenize', logger, (request: DetokenizeRequest) => this.detokenize(request));
  }

  detokenize(request: DetokenizeRequest): DetokenizeResponse {
    const { tokenizer } = this.model;
    const { vocabSize } = this.model.info;
    if (request.tokenIds.length > this.limits.maxDetokenizeIds) {
      throw invalidArgument(`\`token_ids\` must hold at most ${this.limits.maxDetokenizeIds} ids; given ${request.tokenIds.length}`);
    }
    requireTokenIds('token_ids', request.tokenIds, vocabSize);
    return { text: decodeText(tokenizer, request.tokenIds, request.skipSpecialTokens) };
  }
}

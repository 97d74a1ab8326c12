/** `Tokenize`: text → ids and their vocabulary strings, with or without the trailing `</s>`. */
import { inject, injectable } from 'tsyringe';
import type { TokenizeRequest, TokenizeResponse } from '../gen/stepwise/v1/stepwise.js';
import type { ModelRuntime } from '../runtime/types.js';
import { LOGGER, MODEL_RUNTIME, SERVER_LIMITS } from '../tokens.js';
import type { Logger } from './logger.js';
import type { ServerLimits } from './server-limits.js';
import { tokenizeText } from './text-input.js';
import { unaryHandler } from './unary-call.js';

@injectable()
export class TokenizeHandler {
  /** The grpc-js handler. */
  readonly handle: ReturnType<typeof unaryHandler<TokenizeRequest, TokenizeResponse>>;

  constructor(
    @inject(MODEL_RUNTIME) private readonly model: ModelRuntime,
    @inject(SERVER_LIMITS) private readonly limits: ServerLimits,
    @inject(LOGGER) logger: Logger,
  ) {
    this.handle = unaryHandler('Tokenize', logger, (request: TokenizeRequest) => this.tokenize(request));
  }

  tokenize(request: TokenizeRequest): TokenizeResponse {
    const { tokenizer } = this.model;
    const { specialIds } = this.model.info;
    const ids = tokenizeText(tokenizer, request.text, 'text', this.limits);
    // The tokenizer's post-processor always appends `</s>`; without special tokens it is taken off again.
    if (request.addSpecialTokens === false && ids[ids.length - 1] === specialIds.eos) ids.pop();
    return { tokenIds: ids, tokens: ids.map((id) => tokenizer.tokenString(id) ?? '') };
  }
}

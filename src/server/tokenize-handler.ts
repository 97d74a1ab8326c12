/** `Tokenize`: text → ids and their vocabulary strings, with or without the trailing `</s>`. */
import { inject, injectable } from 'tsyringe';
import type { TokenizeRequest, TokenizeResponse } from '../gen/stepwise/v1/stepwise.js';
import { LOGGER, MODEL_CATALOG } from '../tokens.js';
import type { Logger } from './logger.js';
import type { ModelCatalog } from './model-catalog.js';
import { tokenizeText } from './text-input.js';
import { unaryHandler } from './unary-call.js';

@injectable()
export class TokenizeHandler {
  /** The grpc-js handler. */
  readonly handle: ReturnType<typeof unaryHandler<TokenizeRequest, TokenizeResponse>>;

  constructor(
    @inject(MODEL_CATALOG) private readonly catalog: ModelCatalog,
    @inject(LOGGER) logger: Logger,
  ) {
    this.handle = unaryHandler('Tokenize', logger, (request: TokenizeRequest) => this.tokenize(request));
  }

  tokenize(request: TokenizeRequest): TokenizeResponse {
    const { runtime, limits } = this.catalog.resolve(request.model);
    const { tokenizer } = runtime;
    const { specialIds } = runtime.info;
    const ids = tokenizeText(tokenizer, request.text, 'text', limits);
    // The tokenizer's post-processor always appends `</s>`; without special tokens it is taken off again.
    if (request.addSpecialTokens === false && ids[ids.length - 1] === specialIds.eos) ids.pop();
    return { tokenIds: ids, tokens: ids.map((id) => tokenizer.tokenString(id) ?? '') };
  }
}

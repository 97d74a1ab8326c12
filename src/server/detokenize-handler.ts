/** `Detokenize`: ids → text, with or without special tokens. */
import { inject, injectable } from 'tsyringe';
import type { DetokenizeRequest, DetokenizeResponse } from '../gen/stepwise/v1/stepwise.js';
import { LOGGER, MODEL_CATALOG } from '../tokens.js';
import type { Logger } from './logger.js';
import type { ModelCatalog } from './model-catalog.js';
import { requireTokenIds } from './request-checks.js';
import { invalidArgument } from './status.js';
import { decodeText } from './text-decoding.js';
import { unaryHandler } from './unary-call.js';

@injectable()
export class DetokenizeHandler {
  /** The grpc-js handler. */
  readonly handle: ReturnType<typeof unaryHandler<DetokenizeRequest, DetokenizeResponse>>;

  constructor(
    @inject(MODEL_CATALOG) private readonly catalog: ModelCatalog,
    @inject(LOGGER) logger: Logger,
  ) {
    this.handle = unaryHandler('Detokenize', logger, (request: DetokenizeRequest) => this.detokenize(request));
  }

  detokenize(request: DetokenizeRequest): DetokenizeResponse {
    const { runtime, limits } = this.catalog.resolve(request.model);
    const { tokenizer } = runtime;
    const { vocabSize } = runtime.info;
    if (request.tokenIds.length > limits.maxDetokenizeIds) {
      throw invalidArgument(`\`token_ids\` must hold at most ${limits.maxDetokenizeIds} ids; given ${request.tokenIds.length}`);
    }
    requireTokenIds('token_ids', request.tokenIds, vocabSize);
    return { text: decodeText(tokenizer, request.tokenIds, request.skipSpecialTokens) };
  }
}

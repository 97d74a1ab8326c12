/**
 * Processors over fixed sets of tokens: `suppress_tokens`, `begin_suppress_tokens` (Hugging Face
 * `SuppressTokensLogitsProcessor`, `SuppressTokensAtBeginLogitsProcessor`), and the declarative rules
 * `allow_tokens` and `ban_tokens`.
 */
import { defineProcessor } from '../define-processor.js';
import { PROCESSOR_LIMITS } from '../limits.js';
import type { LogitsProcessor, StepContext } from '../types.js';
import { distinctSorted, removeTokens } from './token-id-set.js';

/** Sets the given tokens to -inf at every step. */
export class BanTokensProcessor implements LogitsProcessor {
  private readonly tokens: Int32Array;

  constructor(
    readonly name: string,
    tokens: readonly number[],
  ) {
    this.tokens = distinctSorted(tokens);
  }

  apply(row: Float32Array): void {
    removeTokens(row, this.tokens);
  }

  isArgmaxInvariant(): boolean {
    return false;
  }

  lowersOnly(): readonly number[] {
    return [...this.tokens];
  }
}

/** Sets the given tokens to -inf at one history length only (Hugging Face's `begin_index`). */
export class BeginSuppressTokensProcessor implements LogitsProcessor {
  readonly name = 'begin_suppress_tokens';
  private readonly tokens: Int32Array;

  constructor(
    tokens: readonly number[],
    private readonly beginIndex: number,
  ) {
    this.tokens = distinctSorted(tokens);
  }

  apply(row: Float32Array, { history }: StepContext): void {
    if (history.length === this.beginIndex) removeTokens(row, this.tokens);
  }

  isArgmaxInvariant(): boolean {
    return false;
  }

  lowersOnly(): readonly number[] {
    return [...this.tokens];
  }
}

/** Sets every token except the given ones to -inf, filling the gaps between the sorted allowed ids. */
export class AllowTokensProcessor implements LogitsProcessor {
  readonly name = 'allow_tokens';
  private readonly tokens: Int32Array;

  constructor(tokens: readonly number[]) {
    this.tokens = distinctSorted(tokens);
  }

  apply(row: Float32Array): void {
    let from = 0;
    for (let i = 0; i < this.tokens.length; i++) {
      const allowed = this.tokens[i]!;
      row.fill(-Infinity, from, allowed);
      from = allowed + 1;
    }
    row.fill(-Infinity, from);
  }

  isArgmaxInvariant(): boolean {
    return false;
  }
}

const tokenList = (description: string) =>
  ({ type: 'int_list', description, required: true, nonEmpty: true, tokenIds: true, maxItems: PROCESSOR_LIMITS.tokenIds }) as const;

export const suppressTokens = defineProcessor({
  name: 'suppress_tokens',
  description: 'Sets the given tokens to -inf at every step (Hugging Face SuppressTokensLogitsProcessor).',
  parameters: { suppress_tokens: tokenList('The tokens never to generate.') },
  create: (params) => new BanTokensProcessor('suppress_tokens', params.suppress_tokens),
});

export const beginSuppressTokens = defineProcessor({
  name: 'begin_suppress_tokens',
  description:
    'Sets the given tokens to -inf at the first generated step (Hugging Face SuppressTokensAtBeginLogitsProcessor).',
  parameters: {
    begin_suppress_tokens: tokenList('The tokens not to generate first.'),
    begin_index: {
      type: 'int',
      description:
        'The decoder history length at which the tokens are suppressed; defaults to the decoder prompt length ' +
        '(the first generated token).',
      min: { value: 1, inclusive: true },
    },
  },
  create: (params, context) =>
    new BeginSuppressTokensProcessor(params.begin_suppress_tokens, params.begin_index ?? context.decoderPromptLength),
});

export const allowTokens = defineProcessor({
  name: 'allow_tokens',
  description: 'Only the given tokens may be chosen: every other token is set to -inf.',
  parameters: { token_ids: tokenList('The tokens that stay.') },
  create: (params) => new AllowTokensProcessor(params.token_ids),
});

export const banTokens = defineProcessor({
  name: 'ban_tokens',
  description: 'The given tokens may never be chosen: they are set to -inf at every step.',
  parameters: { token_ids: tokenList('The banned tokens.') },
  create: (params) => new BanTokensProcessor('ban_tokens', params.token_ids),
});

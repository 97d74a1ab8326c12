/**
 * Text ↔ ids for a model folder, backed by `tokenizer.json` (+ `tokenizer_config.json`) through
 * `@huggingface/tokenizers`, which reproduces Hugging Face's T5 ids exactly (Unigram model, `</s>`
 * appended by the post-processor).
 */
import { Tokenizer } from '@huggingface/tokenizers';

import { ModelFolderError } from './errors.js';
import { describeJsonValue, readJsonObject } from './model-config.js';
import type { TextTokenizer } from './types.js';
import { compactUnigramPieces } from './unigram-piece-index.js';

export const TOKENIZER_FILE = 'tokenizer.json';
export const TOKENIZER_CONFIG_FILE = 'tokenizer_config.json';

/** Hugging Face writes `int(1e30)` as `model_max_length` when a tokenizer sets no limit. */
const NO_LIMIT_THRESHOLD = 1e12;

/** What a model reads from its tokenizer beyond `TextTokenizer`. */
export interface ModelTokenizer extends TextTokenizer {
  /** Id of the unknown token, when the tokenizer model has one. */
  readonly unkId: number | undefined;
  /** `model_max_length` of `tokenizer_config.json`, when it sets a real limit. */
  readonly modelMaxLength: number | undefined;
}

export class HuggingFaceTextTokenizer implements ModelTokenizer {
  readonly size: number;
  /** Id of the unknown token, when the tokenizer model has one. */
  readonly unkId: number | undefined;
  /** `model_max_length` of `tokenizer_config.json`, when it sets a real limit. */
  readonly modelMaxLength: number | undefined;

  private constructor(
    private readonly tokenizer: Tokenizer,
    tokenizerJson: Record<string, unknown>,
    tokenizerConfig: Record<string, unknown>,
  ) {
    let largestId = -1;
    for (const id of tokenizer.get_vocab(true).values()) largestId = Math.max(largestId, id);
    this.size = largestId + 1;
    this.unkId = findUnkId(tokenizer, tokenizerJson);
    const maxLength = tokenizerConfig.model_max_length;
    this.modelMaxLength =
      typeof maxLength === 'number' && Number.isInteger(maxLength) && maxLength > 0 && maxLength < NO_LIMIT_THRESHOLD
        ? maxLength
        : undefined;
  }

  /** Loads `tokenizer.json` (required) and `tokenizer_config.json` (optional) from a model folder. */
  static async load(dir: string): Promise<HuggingFaceTextTokenizer> {
    const tokenizerJson = await readJsonObject(dir, TOKENIZER_FILE);
    const tokenizerConfig = (await readJsonObject(dir, TOKENIZER_CONFIG_FILE, true)) ?? {};
    if (typeof tokenizerJson.model !== 'object' || tokenizerJson.model === null) {
      throw new ModelFolderError(TOKENIZER_FILE, `field \`model\` must be a tokenizer model object; found ${describeJsonValue(tokenizerJson.model)}`);
    }
    let tokenizer: Tokenizer;
    try {
      tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
    } catch (error) {
      throw new ModelFolderError(TOKENIZER_FILE, `cannot be loaded: ${(error as Error).message}`, { cause: error });
    }
    // The serving thread keeps this tokenizer for its lifetime: a smaller heap means shorter pauses.
    compactUnigramPieces(tokenizer);
    return new HuggingFaceTextTokenizer(tokenizer, tokenizerJson, tokenizerConfig);
  }

  encode(text: string): number[] {
    return this.tokenizer.encode(text).ids;
  }

  decode(ids: readonly number[], options: { skipSpecialTokens?: boolean } = {}): string {
    return this.tokenizer.decode(ids as number[], { skip_special_tokens: options.skipSpecialTokens ?? true });
  }

  tokenString(id: number): string | undefined {
    if (!Number.isInteger(id) || id < 0 || id >= this.size) return undefined;
    return this.tokenizer.id_to_token(id);
  }

  /** Id of a token string (e.g. "</s>"), or undefined when the vocabulary lacks it. */
  tokenId(token: string): number | undefined {
    return this.tokenizer.token_to_id(token);
  }
}

/** Unigram models store the unknown token as an index (`unk_id`); BPE and WordPiece as a string. */
function findUnkId(tokenizer: Tokenizer, tokenizerJson: Record<string, unknown>): number | undefined {
  const model = tokenizerJson.model as Record<string, unknown>;
  if (typeof model.unk_id === 'number') return model.unk_id;
  if (typeof model.unk_token === 'string') return tokenizer.token_to_id(model.unk_token);
  return undefined;
}

/**
 * A tokenizer's sizes and ids without its vocabulary, for a model in a thread that never tokenizes (the
 * model thread: the serving thread holds the tokenizer). The vocabulary's maps are tens of megabytes of
 * JavaScript heap that every full garbage collection of that thread would otherwise walk.
 */
export class TokenizerFacts implements ModelTokenizer {
  readonly size: number;
  readonly unkId: number | undefined;
  readonly modelMaxLength: number | undefined;

  constructor(tokenizer: ModelTokenizer) {
    this.size = tokenizer.size;
    this.unkId = tokenizer.unkId;
    this.modelMaxLength = tokenizer.modelMaxLength;
  }

  encode(): number[] {
    throw this.absent('encode');
  }

  decode(): string {
    throw this.absent('decode');
  }

  tokenString(): string | undefined {
    throw this.absent('tokenString');
  }

  private absent(method: string): Error {
    return new Error(`${method}: this model was loaded with \`tokenizer: 'facts'\` and keeps no vocabulary`);
  }
}

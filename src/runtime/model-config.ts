/**
 * Reads and validates `config.json` and the optional `generation_config.json` of a model folder.
 *
 * Fields that decide tensor shapes (`vocab_size`, `d_model`, `d_kv`, `num_heads`, `num_layers`) are
 * required: a silent default there would only surface later as a shape error deep inside ONNX Runtime.
 * Every other field falls back the way Python's `T5Config` does (e.g. `num_decoder_layers` ← `num_layers`),
 * and `generation_config.json` overrides the generation ids of `config.json`, as transformers does.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { ModelFolderError } from './errors.js';
import type { GenerationDefaults, T5Config } from './types.js';

export const CONFIG_FILE = 'config.json';
export const GENERATION_CONFIG_FILE = 'generation_config.json';

/** Model types whose ONNX export follows the T5 layout this runtime serves. */
const SUPPORTED_MODEL_TYPES = ['t5', 'mt5'] as const;

type JsonObject = Record<string, unknown>;

/** Reads a JSON object file; `undefined` when the file is absent and `optional` is set. */
export async function readJsonObject(dir: string, file: string, optional: true): Promise<JsonObject | undefined>;
export async function readJsonObject(dir: string, file: string, optional?: false): Promise<JsonObject>;
export async function readJsonObject(dir: string, file: string, optional = false): Promise<JsonObject | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, file), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      if (optional) return undefined;
      throw new ModelFolderError(file, `file is missing; expected it in ${dir}`);
    }
    throw new ModelFolderError(file, `cannot be read: ${(error as Error).message}`, { cause: error });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ModelFolderError(file, `is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ModelFolderError(file, `must hold a JSON object; found ${describeJsonValue(parsed)}`);
  }
  return parsed as JsonObject;
}

/** Typed access to one JSON object, with messages that name the file and the field. */
class FieldReader {
  constructor(
    private readonly file: string,
    private readonly json: JsonObject,
  ) {}

  has(field: string): boolean {
    return this.json[field] !== undefined && this.json[field] !== null;
  }

  requiredInteger(field: string, minimum: number): number {
    if (!this.has(field)) {
      throw new ModelFolderError(this.file, `field \`${field}\` is missing; expected an integer ≥ ${minimum}`);
    }
    return this.integer(field, minimum, 0);
  }

  integer(field: string, minimum: number, fallback: number): number {
    if (!this.has(field)) return fallback;
    const value = this.json[field];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < minimum) {
      throw new ModelFolderError(this.file, `field \`${field}\` must be an integer ≥ ${minimum}; found ${describeJsonValue(value)}`);
    }
    return value;
  }

  positiveNumber(field: string, fallback: number): number {
    if (!this.has(field)) return fallback;
    const value = this.json[field];
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      throw new ModelFolderError(this.file, `field \`${field}\` must be a number > 0; found ${describeJsonValue(value)}`);
    }
    return value;
  }

  string(field: string, fallback: string): string {
    if (!this.has(field)) return fallback;
    const value = this.json[field];
    if (typeof value !== 'string' || value.length === 0) {
      throw new ModelFolderError(this.file, `field \`${field}\` must be a non-empty string; found ${describeJsonValue(value)}`);
    }
    return value;
  }

  boolean(field: string, fallback: boolean): boolean {
    if (!this.has(field)) return fallback;
    const value = this.json[field];
    if (typeof value !== 'boolean') {
      throw new ModelFolderError(this.file, `field \`${field}\` must be true or false; found ${describeJsonValue(value)}`);
    }
    return value;
  }

  /** An id field that Hugging Face allows as one id or a list of ids (e.g. `eos_token_id`). */
  idList(field: string): number[] | undefined {
    if (!this.has(field)) return undefined;
    const value = this.json[field];
    const list = Array.isArray(value) ? value : [value];
    if (list.length === 0 || !list.every((id) => typeof id === 'number' && Number.isInteger(id) && id >= 0)) {
      throw new ModelFolderError(
        this.file,
        `field \`${field}\` must be a token id (integer ≥ 0) or a non-empty list of them; found ${describeJsonValue(value)}`,
      );
    }
    return list as number[];
  }
}

/** Validates a parsed `config.json`; `file` names it in errors. */
export function parseT5Config(json: JsonObject, file = CONFIG_FILE): T5Config {
  const fields = new FieldReader(file, json);
  if (!fields.has('model_type')) {
    throw new ModelFolderError(file, `field \`model_type\` is missing; expected one of ${SUPPORTED_MODEL_TYPES.join(', ')}`);
  }
  const modelType = fields.string('model_type', '');
  if (!(SUPPORTED_MODEL_TYPES as readonly string[]).includes(modelType)) {
    throw new ModelFolderError(
      file,
      `field \`model_type\` must be one of ${SUPPORTED_MODEL_TYPES.join(', ')}; found ${JSON.stringify(modelType)}`,
    );
  }
  // Older configs omit `is_encoder_decoder` (T5Config's default is true); an explicit false is another model.
  if (!fields.boolean('is_encoder_decoder', true)) {
    throw new ModelFolderError(file, 'field `is_encoder_decoder` must be true for a T5 model; found false');
  }

  const numLayers = fields.requiredInteger('num_layers', 1);
  const padTokenId = fields.idList('pad_token_id')?.[0] ?? 0;
  const vocabSize = fields.requiredInteger('vocab_size', 1);
  const config: T5Config = {
    modelType,
    vocabSize,
    dModel: fields.requiredInteger('d_model', 1),
    dKv: fields.requiredInteger('d_kv', 1),
    dFf: fields.integer('d_ff', 1, 2048),
    numLayers,
    // Python's T5Config: `num_decoder_layers = num_decoder_layers if not None else num_layers`.
    numDecoderLayers: fields.integer('num_decoder_layers', 1, numLayers),
    numHeads: fields.requiredInteger('num_heads', 1),
    relativeAttentionNumBuckets: fields.integer('relative_attention_num_buckets', 1, 32),
    relativeAttentionMaxDistance: fields.integer('relative_attention_max_distance', 1, 128),
    layerNormEpsilon: fields.positiveNumber('layer_norm_epsilon', 1e-6),
    feedForwardProj: fields.string('feed_forward_proj', 'relu'),
    tieWordEmbeddings: fields.boolean('tie_word_embeddings', true),
    padTokenId,
    eosTokenId: fields.idList('eos_token_id')?.[0] ?? 1,
    // T5 starts decoding with the pad token; transformers falls back to it the same way.
    decoderStartTokenId: fields.idList('decoder_start_token_id')?.[0] ?? padTokenId,
  };
  for (const field of ['padTokenId', 'eosTokenId', 'decoderStartTokenId'] as const) {
    if (config[field] >= vocabSize) {
      throw new ModelFolderError(
        file,
        `field \`${snakeCase(field)}\` must be in [0, ${vocabSize}) (vocab_size); found ${config[field]}`,
      );
    }
  }
  return config;
}

/**
 * Merges generation settings: `config.json`'s ids, overridden by `generation_config.json` when present
 * (transformers' precedence). `json` is the parsed generation config, or undefined when the file is absent.
 */
export function parseGenerationDefaults(
  config: T5Config,
  json: JsonObject | undefined,
  file = GENERATION_CONFIG_FILE,
): GenerationDefaults {
  const fields = new FieldReader(file, json ?? {});
  const eosTokenIds = fields.idList('eos_token_id') ?? [config.eosTokenId];
  const padTokenId = fields.idList('pad_token_id')?.[0] ?? config.padTokenId;
  const decoderStartTokenId = fields.idList('decoder_start_token_id')?.[0] ?? config.decoderStartTokenId;
  for (const [field, ids] of [
    ['eos_token_id', eosTokenIds],
    ['pad_token_id', [padTokenId]],
    ['decoder_start_token_id', [decoderStartTokenId]],
  ] as const) {
    const outside = ids.find((id) => id >= config.vocabSize);
    if (outside !== undefined) {
      throw new ModelFolderError(file, `field \`${field}\` must be in [0, ${config.vocabSize}) (vocab_size); found ${outside}`);
    }
  }
  return {
    decoderStartTokenId,
    eosTokenIds,
    padTokenId,
    maxLength: fields.has('max_length') ? fields.integer('max_length', 1, 0) : undefined,
    maxNewTokens: fields.has('max_new_tokens') ? fields.integer('max_new_tokens', 1, 0) : undefined,
    settings: Object.fromEntries(Object.entries(json ?? {}).filter(([key]) => !GENERATION_IDS_AND_LENGTHS.has(key))),
  };
}

/** The `generation_config.json` entries the runtime reads itself (the rest are `GenerationDefaults.settings`). */
const GENERATION_IDS_AND_LENGTHS = new Set(['decoder_start_token_id', 'eos_token_id', 'pad_token_id', 'max_length', 'max_new_tokens']);

/** Reads both files of a model folder. */
export async function readModelConfig(dir: string): Promise<{ config: T5Config; generation: GenerationDefaults }> {
  const config = parseT5Config(await readJsonObject(dir, CONFIG_FILE));
  const generation = parseGenerationDefaults(config, await readJsonObject(dir, GENERATION_CONFIG_FILE, true));
  return { config, generation };
}

function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}

/** A short rendering of a JSON value for error messages. */
export function describeJsonValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/**
 * Checks on request fields that fail with INVALID_ARGUMENT and a message naming the field, the allowed
 * range and the value given, e.g. "`max_new_tokens` must be in [1, 512]; given 600". Field names are the
 * proto's snake_case names, with the path from the request root, so a client in any language can find them.
 */
import { LogitsFormat } from '../gen/stepwise/v1/stepwise.js';
import type { RawLogitsFormat } from './decode-plan.js';
import { invalidArgument } from './status.js';

/** Requires `min <= value <= max`. */
export function requireInClosedRange(field: string, value: number, min: number, max: number, note = ''): void {
  if (value < min || value > max || !Number.isFinite(value)) {
    throw invalidArgument(`\`${field}\` must be in [${min}, ${max}]${note}; given ${value}`);
  }
}

/** Requires a token id in `[0, vocabSize)`. */
export function requireTokenId(field: string, id: number, vocabSize: number): void {
  if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
    throw invalidArgument(`\`${field}\` must be in [0, ${vocabSize}); given ${id}`);
  }
}

/** Requires every id of a list in `[0, vocabSize)`; the message names the first offending index. */
export function requireTokenIds(field: string, ids: readonly number[], vocabSize: number): void {
  for (let i = 0; i < ids.length; i++) requireTokenId(`${field}[${i}]`, ids[i]!, vocabSize);
}

/** Requires an enum value the server knows; `names` maps each accepted value to its proto name. */
export function requireKnownEnum(field: string, value: number, names: ReadonlyMap<number, string>): void {
  if (!names.has(value)) {
    throw invalidArgument(`\`${field}\` must be one of ${[...names.values()].join(', ')}; given ${value}`);
  }
}

/**
 * The raw-row format a request asks for (`raw_logits`, with `raw_top_k` for TOP_K); `at` prefixes the field
 * names in messages (`stream.` for a `Start`), and `unspecified` is what UNSPECIFIED means there.
 */
export function resolveRawLogitsFormat(
  format: LogitsFormat,
  rawTopK: number,
  vocabSize: number,
  at: string,
  unspecified: RawLogitsFormat,
): RawLogitsFormat {
  switch (format) {
    case LogitsFormat.LOGITS_FORMAT_UNSPECIFIED:
      return unspecified;
    case LogitsFormat.LOGITS_FORMAT_FLOAT32:
      return { kind: 'float32' };
    case LogitsFormat.LOGITS_FORMAT_FLOAT16:
      return { kind: 'float16' };
    case LogitsFormat.LOGITS_FORMAT_TOP_K:
      requireInClosedRange(`${at}raw_top_k`, rawTopK, 1, vocabSize, ' with `raw_logits` TOP_K');
      return { kind: 'top-k', k: rawTopK };
    case LogitsFormat.LOGITS_FORMAT_NONE:
      return { kind: 'none' };
    default:
      throw invalidArgument(`\`${at}raw_logits\` must be one of FLOAT32, FLOAT16, TOP_K, NONE; given ${format}`);
  }
}

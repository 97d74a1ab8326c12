/**
 * Checks of caller-given token ids. They run where ids enter the runtime (encode, createState, append),
 * so that an id outside the embedding table is reported by name instead of failing inside a Gather.
 */
import { InvalidInputError, OutOfRangeError } from './errors.js';

/** Throws `InvalidInputError` unless `value` is an integer in `[0, vocabSize)`; `field` names it. */
export function checkTokenId(value: unknown, vocabSize: number, field: string): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value >= vocabSize) {
    throw new InvalidInputError(`${field} must be an integer in [0, ${vocabSize}); given ${formatValue(value)}`);
  }
}

/** Checks every id of a sequence; the message names the first bad one as `${field}[i]`. */
export function checkTokenIds(ids: unknown, vocabSize: number, field: string): asserts ids is readonly number[] {
  if (!Array.isArray(ids)) {
    throw new InvalidInputError(`${field} must be an array of token ids; given ${formatValue(ids)}`);
  }
  for (let i = 0; i < ids.length; i++) checkTokenId(ids[i], vocabSize, `${field}[${i}]`);
}

function formatValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (Array.isArray(value)) return 'an array';
  return String(value);
}

/**
 * Throws unless `n` is a valid rewind count for a history with `generated` tokens after the decoder start
 * token: not an integer → `InvalidInputError`, outside `[0, generated]` → `OutOfRangeError`.
 */
export function checkRewindCount(n: unknown, generated: number): asserts n is number {
  if (typeof n !== 'number' || !Number.isInteger(n)) {
    throw new InvalidInputError(`\`n\` must be an integer in [0, ${generated}]; given ${String(n)}`);
  }
  if (n < 0 || n > generated) {
    throw new OutOfRangeError(`\`n\` must be in [0, ${generated}] (the tokens after the decoder start token); given ${n}`);
  }
}

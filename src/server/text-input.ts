/**
 * A client's text into token ids, bounded before the tokenizer sees it: a text longer than
 * `maxInputBytes` (UTF-8) is refused without being tokenized, so no request can hold the serving thread in
 * the tokenizer for long, and whatever the tokenizer throws on a text it cannot take is the client's
 * INVALID_ARGUMENT, never INTERNAL.
 */
import type { TextTokenizer } from '../runtime/types.js';
import type { ServerLimits } from './server-limits.js';
import { invalidArgument } from './status.js';

/** The ids of `text` (ending with `</s>`); `field` names it in errors, e.g. "text". */
export function tokenizeText(tokenizer: Pick<TextTokenizer, 'encode'>, text: string, field: string, limits: Pick<ServerLimits, 'maxInputBytes'>): number[] {
  // A string's UTF-8 length is at least its UTF-16 length: the cheap check first, for huge texts.
  const bytes = text.length > limits.maxInputBytes ? text.length : Buffer.byteLength(text, 'utf8');
  if (bytes > limits.maxInputBytes) {
    throw invalidArgument(
      `\`${field}\` must be at most ${limits.maxInputBytes} bytes of UTF-8 (\`max_input_bytes\`); given ${text.length > limits.maxInputBytes ? `at least ${bytes}` : bytes} bytes`,
    );
  }
  try {
    return tokenizer.encode(text);
  } catch (error) {
    throw invalidArgument(`\`${field}\` cannot be tokenized: ${error instanceof Error ? error.message : String(error)}`);
  }
}

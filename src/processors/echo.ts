/**
 * Client text repeated in error messages, cut to a short prefix with its length. A refusal's message travels
 * back as the gRPC status message (a header): repeating a 1 MB processor name whole would make it larger
 * than clients accept, and no reader needs more than the start of it.
 *
 * ```ts
 * quoted('top_q')              // "top_q"
 * quoted('x'.repeat(1 << 20))  // "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…" (1,048,576 characters)
 * named('top_q')               // `top_q`
 * ```
 */

/** Characters of a long value an error message keeps. */
export const ECHO_PREFIX_CHARACTERS = 32;

/** `value` as a JSON string, or the start of it followed by its length when it is longer than the prefix. */
export function quoted(value: string): string {
  const prefix = prefixOf(value);
  if (prefix === undefined) return JSON.stringify(value);
  return `${JSON.stringify(`${prefix}…`)} (${count(characterCount(value))} characters)`;
}

/** A name in backquotes, as messages name fields and processors; a long one is cut as by `quoted`. */
export function named(value: string): string {
  return prefixOf(value) === undefined && !/[`\p{Cc}]/u.test(value) ? `\`${value}\`` : quoted(value);
}

/** An integer with thousands separators, as limits and sizes are written in messages ("65,536"). */
export function count(value: number): string {
  return String(value).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** Characters (code points) of `value`. */
export function characterCount(value: string): number {
  let characters = 0;
  for (let index = 0; index < value.length; characters++) index += isHighSurrogateAt(value, index) ? 2 : 1;
  return characters;
}

/** The first `ECHO_PREFIX_CHARACTERS` characters of `value`, or undefined when it has no more than that. */
function prefixOf(value: string): string | undefined {
  if (value.length <= ECHO_PREFIX_CHARACTERS) return undefined;
  let end = 0;
  for (let characters = 0; characters < ECHO_PREFIX_CHARACTERS && end < value.length; characters++) {
    end += isHighSurrogateAt(value, end) ? 2 : 1;
  }
  return end >= value.length ? undefined : value.slice(0, end);
}

function isHighSurrogateAt(value: string, index: number): boolean {
  const unit = value.charCodeAt(index);
  if (unit < 0xd800 || unit > 0xdbff || index + 1 >= value.length) return false;
  const next = value.charCodeAt(index + 1);
  return next >= 0xdc00 && next <= 0xdfff;
}

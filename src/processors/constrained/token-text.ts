/**
 * How tokens become output text in the T5 family (SentencePiece vocabularies with a Metaspace decoder), as
 * `tokenizer.decode(ids, { skip_special_tokens: true })` does it: special tokens add nothing, `▁` becomes a
 * space, and the first token of the output loses its leading space. Tokenization-space clean-up (" ." → ".")
 * is not applied: constraints see the text the tokens spell.
 */

/** SentencePiece's word-boundary mark, U+2581. */
export const METASPACE = 0x2581;
const SPACE = 0x20;

/**
 * Feeds the text `piece` contributes to the output, code point by code point, to `step`; stops early and
 * returns false as soon as `step` does.
 */
export function forEachOutputCodePoint(piece: string, isFirstOfOutput: boolean, step: (codePoint: number) => boolean): boolean {
  let index = isFirstOfOutput && piece.charCodeAt(0) === METASPACE ? 1 : 0;
  while (index < piece.length) {
    let codePoint = piece.codePointAt(index)!;
    index += codePoint > 0xffff ? 2 : 1;
    if (codePoint === METASPACE) codePoint = SPACE;
    if (!step(codePoint)) return false;
  }
  return true;
}

/** The text `piece` contributes to the output (for messages and tests). */
export function outputText(piece: string, isFirstOfOutput: boolean): string {
  const text = piece.replaceAll('\u2581', ' ');
  return isFirstOfOutput && text.startsWith(' ') ? text.slice(1) : text;
}

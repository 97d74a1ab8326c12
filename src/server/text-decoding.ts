/**
 * Ids → text for the server's outputs (`Finished.text`, token pieces, `Detokenize`). Ids between the
 * tokenizer's size and the logits width are padding rows of the output layer and decode to nothing; an
 * empty list decodes to "" (the tokenizer library refuses an empty list).
 */
import type { TextTokenizer } from '../runtime/types.js';

export function decodeText(tokenizer: TextTokenizer, ids: readonly number[], skipSpecialTokens: boolean): string {
  const known = ids.filter((id) => id < tokenizer.size);
  return known.length === 0 ? '' : tokenizer.decode(known, { skipSpecialTokens });
}

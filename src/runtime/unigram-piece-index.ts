/**
 * A compact replacement for the character trie that `@huggingface/tokenizers` builds for a Unigram model.
 *
 * The library's trie holds a JavaScript `Map` for every node: for T5's 32,100 pieces that is most of the
 * heap of a serving thread that loaded the model (bench/README.md), and every full garbage collection of
 * that thread walks it. A `Set` of the same pieces answers the only question the model asks of its trie (which pieces
 * start at a position of the input, shortest first) with one lookup per candidate length. Encoding runs once
 * per request, on its prompt, so the lookups cost nothing that matters; the collections that pause streams
 * get shorter.
 *
 * The replacement is made only when the tokenizer has the shape it was written for (a Unigram model whose
 * trie was built from `config.vocab`); any other tokenizer is left as it is.
 */
import type { Tokenizer } from '@huggingface/tokenizers';

/** The part of the library's Unigram model that the replacement reads and writes. */
interface UnigramModelShape {
  config?: { vocab?: unknown };
  trie?: { common_prefix_search?: unknown };
}

/** The same answers as the library's `CharTrie.common_prefix_search`, from a set of pieces. */
export class PieceIndex {
  private readonly pieces: ReadonlySet<string>;
  /** The longest piece, in code points (the unit of the input the model passes in). */
  private readonly longest: number;

  constructor(pieces: Iterable<string>) {
    const set = new Set<string>();
    let longest = 0;
    for (const piece of pieces) {
      set.add(piece);
      longest = Math.max(longest, codePointLength(piece));
    }
    this.pieces = set;
    this.longest = longest;
  }

  /** Every piece that `chars` (one code point per element) spells from `start` on, shortest first. */
  *common_prefix_search(chars: readonly string[], start = 0): Generator<string> {
    const end = Math.min(chars.length, start + this.longest);
    let prefix = '';
    for (let i = start; i < end; i++) {
      prefix += chars[i];
      if (this.pieces.has(prefix)) yield prefix;
    }
  }
}

/**
 * Replaces a loaded Unigram tokenizer's character trie with a `PieceIndex` of the same pieces. Returns
 * whether it did (false for other models, or a library whose internals differ from what is expected here).
 */
export function compactUnigramPieces(tokenizer: Tokenizer): boolean {
  const model = (tokenizer as unknown as { model?: UnigramModelShape }).model;
  if (model === undefined || typeof model.trie?.common_prefix_search !== 'function') return false;
  const vocab = model.config?.vocab;
  if (!Array.isArray(vocab)) return false;
  const pieces: string[] = [];
  for (const entry of vocab) {
    // The model built its trie from the first element of every `[piece, score]` entry.
    if (!Array.isArray(entry) || typeof entry[0] !== 'string') return false;
    pieces.push(entry[0]);
  }
  model.trie = new PieceIndex(pieces);
  return true;
}

function codePointLength(text: string): number {
  let length = 0;
  for (const _ of text) length++;
  return length;
}

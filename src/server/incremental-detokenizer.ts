/**
 * Turns generated tokens into text one token at a time, so that the pieces streamed in `TokenChosen.text`
 * concatenate to the decoded output. Decoding a token alone would lose what depends on its neighbours
 * (SentencePiece's leading "▁" becomes a space only after another word; a multi-byte character can span
 * tokens), so each piece is the difference between decoding a short window with and without the new token,
 * the method Text Generation Inference uses (`prefix_offset` / `read_offset`).
 */
import type { TextTokenizer } from '../runtime/types.js';
import { decodeText } from './text-decoding.js';

interface Offsets {
  /** Start of the window decoded for context. */
  readonly prefix: number;
  /** End of the text already emitted. */
  readonly read: number;
}

/** U+FFFD: the decoder's stand-in for an incomplete UTF-8 sequence; such text waits for the next token. */
const REPLACEMENT_CHARACTER = '\uFFFD';

export class IncrementalDetokenizer {
  private readonly ids: number[] = [];
  /** Offsets after each token, so a rewind restores them exactly. */
  private readonly offsetsAfter: Offsets[] = [];
  /** Text emitted by each token (empty while it waits for a following token). */
  private readonly pieces: string[] = [];
  private offsets: Offsets = { prefix: 0, read: 0 };
  private emitted = '';

  constructor(private readonly tokenizer: TextTokenizer) {}

  /** All text emitted so far. */
  get text(): string {
    return this.emitted;
  }

  /** Appends a token and returns the text it adds (possibly empty). */
  push(id: number): string {
    this.ids.push(id);
    const piece = this.pieceAt(this.ids, this.offsets);
    if (piece !== undefined) this.offsets = { prefix: this.offsets.read, read: this.ids.length };
    this.offsetsAfter.push(this.offsets);
    this.pieces.push(piece ?? '');
    this.emitted += piece ?? '';
    return piece ?? '';
  }

  /** The text `id` would add if it were pushed next; nothing changes. */
  peek(id: number): string {
    this.ids.push(id);
    try {
      return this.pieceAt(this.ids, this.offsets) ?? '';
    } finally {
      this.ids.pop();
    }
  }

  /**
   * The text `id` would have added had it been pushed instead of the last token; nothing changes. (A
   * stream pushes its token before it knows the alternatives it reports beside it.)
   */
  peekInsteadOfLast(id: number): string {
    const last = this.ids.length - 1;
    if (last < 0) throw new RangeError('peekInsteadOfLast needs a pushed token');
    const offsets = last === 0 ? { prefix: 0, read: 0 } : this.offsetsAfter[last - 1]!;
    const pushed = this.ids[last]!;
    this.ids[last] = id;
    try {
      return this.pieceAt(this.ids, offsets) ?? '';
    } finally {
      this.ids[last] = pushed;
    }
  }

  /** A detokenizer of its own at the same point (a forked branch's). */
  copy(): IncrementalDetokenizer {
    const copy = new IncrementalDetokenizer(this.tokenizer);
    copy.ids.push(...this.ids);
    copy.offsetsAfter.push(...this.offsetsAfter);
    copy.pieces.push(...this.pieces);
    copy.offsets = this.offsets;
    copy.emitted = this.emitted;
    return copy;
  }

  /** Forgets the last `count` tokens. */
  rewind(count: number): void {
    const length = this.ids.length - count;
    this.ids.length = length;
    this.offsetsAfter.length = length;
    this.pieces.length = length;
    this.offsets = length === 0 ? { prefix: 0, read: 0 } : this.offsetsAfter[length - 1]!;
    this.emitted = this.pieces.join('');
  }

  /** The new text of `ids` past `offsets.read`, or undefined while it is incomplete. */
  private pieceAt(ids: readonly number[], offsets: Offsets): string | undefined {
    const before = this.decode(ids.slice(offsets.prefix, offsets.read));
    const after = this.decode(ids.slice(offsets.prefix));
    if (after.length > before.length && !after.endsWith(REPLACEMENT_CHARACTER)) return after.slice(before.length);
    return undefined;
  }

  private decode(ids: readonly number[]): string {
    return decodeText(this.tokenizer, ids, true);
  }
}

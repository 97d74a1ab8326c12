/**
 * The text of every token as the alphabet classes of one pattern, computed once at `Start`: a mask over the
 * vocabulary then walks small integers through the transition table, with no string or code point handled
 * per step.
 */
import type { StaticContext } from '../../types.js';
import { forEachOutputCodePoint, METASPACE } from '../token-text.js';
import type { Alphabet } from './alphabet.js';

export class VocabularyClasses {
  private constructor(
    /** Token t's classes are `classes[starts[t]]` to `classes[starts[t + 1] - 1]`. */
    private readonly starts: Int32Array,
    readonly classes: Uint16Array | Int32Array,
    /** Per token: `NO_TEXT` (special, or outside the tokenizer) and `LEADING_SPACE` (a first `▁`). */
    private readonly flags: Uint8Array,
  ) {}

  static of(alphabet: Alphabet, context: StaticContext): VocabularyClasses {
    const { vocabSize } = context;
    const starts = new Int32Array(vocabSize + 1);
    const flags = new Uint8Array(vocabSize);
    const classes: number[] = [];
    const add = (codePoint: number): boolean => {
      classes.push(alphabet.classOf(codePoint));
      return true;
    };
    for (let id = 0; id < vocabSize; id++) {
      starts[id] = classes.length;
      const piece = context.isSpecialToken(id) ? undefined : context.tokenString(id);
      if (piece === undefined) {
        flags[id] = NO_TEXT;
        continue;
      }
      if (piece.charCodeAt(0) === METASPACE) flags[id] = LEADING_SPACE;
      forEachOutputCodePoint(piece, false, add);
    }
    starts[vocabSize] = classes.length;
    const packed = alphabet.size <= 0xffff ? Uint16Array.from(classes) : Int32Array.from(classes);
    return new VocabularyClasses(starts, packed, flags);
  }

  /** Whether the token adds text (it is neither special nor outside the tokenizer). */
  hasText(token: number): boolean {
    return this.flags[token] !== NO_TEXT;
  }

  /** Where the token's classes start in `classes`; the first token of the output drops a leading space. */
  start(token: number, isFirstOfOutput: boolean): number {
    return this.starts[token]! + (isFirstOfOutput && this.flags[token] === LEADING_SPACE ? 1 : 0);
  }

  /** Where the token's classes end in `classes`. */
  end(token: number): number {
    return this.starts[token + 1]!;
  }
}

const NO_TEXT = 1;
const LEADING_SPACE = 2;

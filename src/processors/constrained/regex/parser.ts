/**
 * Parses the safe subset of regular-expression syntax the `regex` processor supports into a tree:
 * literals, escapes (`\d \w \s \D \W \S`, `\n \t \r \f \v \0`, `\xHH`, `\uHHHH`, `\u{H…}`, escaped
 * punctuation), `.`, classes `[...]` with ranges and negation, groups `(...)`, `(?:...)`, `(?<name>...)`,
 * alternation `|`, and the quantifiers `* + ? {m} {m,} {m,n}` (a lazy `?` suffix is accepted: it changes
 * which match a backtracking engine reports, not which strings match).
 *
 * Refused with a message saying why: backreferences, lookaround, word boundaries, anchors anywhere but at
 * the very start (`^`) and end (`$`) — the whole output is matched anyway —, Unicode property escapes,
 * inline flags, repetition counts above `MAX_REPEAT` and groups nested deeper than `MAX_GROUP_DEPTH` (the
 * parser descends one level per group, on the serving thread's stack).
 *
 * Parts that can only match the empty string are left out of the tree (`()`, `(?:){3}`, `a{0}`), so that every
 * node of it adds at least one state to the automaton: the automaton's size limit then bounds the work of
 * building it, however the pattern repeats nothing.
 */
import { count } from '../../echo.js';
import { PROCESSOR_LIMITS } from '../../limits.js';
import { CharSet, DIGIT, DOT, SPACE, WORD } from './char-set.js';

export type RegexNode =
  | { readonly type: 'empty' }
  | { readonly type: 'set'; readonly set: CharSet }
  | { readonly type: 'concat'; readonly items: readonly RegexNode[] }
  | { readonly type: 'alternation'; readonly options: readonly RegexNode[] }
  | { readonly type: 'repeat'; readonly item: RegexNode; readonly min: number; readonly max: number };

/** Largest count in `{m,n}`. */
export const MAX_REPEAT = PROCESSOR_LIMITS.regexRepeatCount;
/** Most groups open at once. */
export const MAX_GROUP_DEPTH = PROCESSOR_LIMITS.regexGroupDepth;

export class RegexSyntaxError extends Error {
  override readonly name = 'RegexSyntaxError';

  constructor(
    detail: string,
    readonly index: number,
  ) {
    super(`${detail} (at character ${index})`);
  }
}

const EMPTY: RegexNode = { type: 'empty' };

export function parseRegex(pattern: string): RegexNode {
  return new Parser(pattern).parse();
}

class Parser {
  private readonly chars: readonly string[];
  private position = 0;
  private depth = 0;

  constructor(pattern: string) {
    this.chars = Array.from(pattern);
  }

  parse(): RegexNode {
    const node = this.alternation();
    if (this.position < this.chars.length) this.fail('unmatched `)`');
    return node;
  }

  private alternation(): RegexNode {
    const options = [this.concatenation()];
    while (this.peek() === '|') {
      this.position++;
      options.push(this.concatenation());
    }
    if (options.every((option) => option === EMPTY)) return EMPTY;
    return options.length === 1 ? options[0]! : { type: 'alternation', options };
  }

  private concatenation(): RegexNode {
    const items: RegexNode[] = [];
    while (this.position < this.chars.length && this.peek() !== '|' && this.peek() !== ')') {
      items.push(this.quantified());
    }
    const matching = items.filter((item) => item !== EMPTY);
    if (matching.length === 0) return EMPTY;
    return matching.length === 1 ? matching[0]! : { type: 'concat', items: matching };
  }

  private quantified(): RegexNode {
    const atomStart = this.position;
    let node = this.atom();
    let quantifiers = 0;
    for (;;) {
      const bounds = this.quantifier();
      if (bounds === undefined) break;
      if (++quantifiers > 1) this.fail('a quantifier cannot follow another quantifier; group the first one');
      if (node.type === 'empty' && this.chars[atomStart] !== '(') this.fail('nothing to repeat');
      // Repeating what matches only the empty string, or repeating anything zero times, matches only that.
      node = node === EMPTY || bounds[1] === 0 ? EMPTY : { type: 'repeat', item: node, min: bounds[0], max: bounds[1] };
      if (this.peek() === '?') this.position++;
      else if (this.peek() === '+') this.fail('possessive quantifiers are not supported');
    }
    return node;
  }

  /** Reads `*`, `+`, `?` or `{m}`, `{m,}`, `{m,n}`; undefined when none follows. */
  private quantifier(): readonly [number, number] | undefined {
    const char = this.peek();
    if (char === '*' || char === '+' || char === '?') {
      this.position++;
      return char === '*' ? [0, Infinity] : char === '+' ? [1, Infinity] : [0, 1];
    }
    if (char !== '{') return undefined;
    const start = this.position;
    const match = /^\{(\d+)(,(\d*))?\}/.exec(this.chars.slice(start, start + 24).join(''));
    if (match === null) this.fail('malformed quantifier; write `\\{` for a literal brace');
    this.position += match[0].length;
    const min = Number(match[1]);
    const max = match[2] === undefined ? min : match[3] === '' ? Infinity : Number(match[3]);
    if (max < min) this.fail(`quantifier {${min},${max}} has its maximum below its minimum`);
    if (min > MAX_REPEAT || (max !== Infinity && max > MAX_REPEAT)) {
      this.fail(`repetition counts above ${count(MAX_REPEAT)} are not supported`);
    }
    return [min, max];
  }

  private atom(): RegexNode {
    const char = this.next();
    switch (char) {
      case '(':
        return this.group();
      case '[':
        return { type: 'set', set: this.charClass() };
      case '.':
        return { type: 'set', set: DOT };
      case '\\':
        return { type: 'set', set: this.escape(false) };
      case '^':
        if (this.position - 1 !== 0) this.fail('`^` is only supported at the start of the pattern (the whole output is matched)');
        return EMPTY;
      case '$':
        if (this.position !== this.chars.length) this.fail('`$` is only supported at the end of the pattern (the whole output is matched)');
        return EMPTY;
      case '*':
      case '+':
      case '?':
      case '{':
        return this.fail('nothing to repeat');
      case ')':
        return this.fail('unmatched `)`');
      default:
        return { type: 'set', set: CharSet.of(char.codePointAt(0)!) };
    }
  }

  private group(): RegexNode {
    if (++this.depth > MAX_GROUP_DEPTH) this.fail(`groups nest deeper than ${count(MAX_GROUP_DEPTH)} levels`);
    if (this.peek() === '?') {
      const opener = this.chars.slice(this.position, this.position + 3).join('');
      if (opener.startsWith('?:')) this.position += 2;
      else if (opener.startsWith('?=') || opener.startsWith('?!')) {
        this.fail('lookahead is not supported: it is not a property of the matched text alone');
      } else if (opener === '?<=' || opener === '?<!') this.fail('lookbehind is not supported');
      else if (opener.startsWith('?<') || opener.startsWith('?P<')) {
        const close = this.chars.indexOf('>', this.position);
        if (close < 0) this.fail('unterminated group name');
        this.position = close + 1;
      } else this.fail('inline flags and other `(?` group forms are not supported');
    }
    const inner = this.alternation();
    if (this.next() !== ')') this.fail('missing `)`');
    this.depth--;
    return inner;
  }

  private charClass(): CharSet {
    const negated = this.peek() === '^';
    if (negated) this.position++;
    // Gathered first and merged once: a union per member would cost the square of the class's length.
    const ranges: (readonly [number, number])[] = [];
    while (this.peek() !== ']') {
      if (this.position >= this.chars.length) this.fail('missing `]`');
      const low = this.classAtom();
      if (this.peek() === '-' && this.chars[this.position + 1] !== ']' && this.position + 1 < this.chars.length) {
        this.position++;
        const high = this.classAtom();
        if (typeof low !== 'number' || typeof high !== 'number') this.fail('a class escape cannot bound a range');
        if (low > high) this.fail('range out of order in character class');
        ranges.push([low, high]);
      } else if (typeof low === 'number') {
        ranges.push([low, low]);
      } else {
        ranges.push(...low.ranges());
      }
    }
    this.position++;
    const set = CharSet.fromRanges(ranges);
    return negated ? set.complement() : set;
  }

  /** One class member: a code point, or a set for `\d`-style escapes. */
  private classAtom(): number | CharSet {
    const char = this.next();
    if (char !== '\\') return char.codePointAt(0)!;
    if (this.peek() === 'b') {
      this.position++;
      return 0x08;
    }
    const set = this.escape(true);
    const single = singleCodePoint(set);
    return single ?? set;
  }

  private escape(inClass: boolean): CharSet {
    const char = this.next();
    switch (char) {
      case 'd':
        return DIGIT;
      case 'D':
        return DIGIT.complement();
      case 'w':
        return WORD;
      case 'W':
        return WORD.complement();
      case 's':
        return SPACE;
      case 'S':
        return SPACE.complement();
      case 'n':
        return CharSet.of(0x0a);
      case 'r':
        return CharSet.of(0x0d);
      case 't':
        return CharSet.of(0x09);
      case 'f':
        return CharSet.of(0x0c);
      case 'v':
        return CharSet.of(0x0b);
      case '0':
        if (/\d/.test(this.peek() ?? '')) this.fail('octal escapes are not supported');
        return CharSet.of(0);
      case 'x':
        return CharSet.of(this.hex(2));
      case 'u':
        if (this.peek() === '{') {
          this.position++;
          const close = this.chars.indexOf('}', this.position);
          if (close < 0) this.fail('unterminated \\u{…}');
          const digits = this.chars.slice(this.position, close).join('');
          if (!/^[0-9a-fA-F]{1,6}$/.test(digits) || parseInt(digits, 16) > 0x10ffff) this.fail('invalid \\u{…} escape');
          this.position = close + 1;
          return CharSet.of(parseInt(digits, 16));
        }
        return CharSet.of(this.hex(4));
      case 'b':
      case 'B':
        return this.fail('word boundaries (\\b, \\B) are zero-width assertions the automaton does not support');
      case 'k':
        return this.fail('backreferences are not supported: they are not regular');
      case 'p':
      case 'P':
        return this.fail('Unicode property escapes are not supported');
      case 'c':
        return this.fail('control escapes (\\cX) are not supported; use \\xHH');
      case '':
        return this.fail('pattern ends with a lone backslash');
      default:
        if (/[1-9]/.test(char)) return this.fail('backreferences are not supported: they are not regular');
        if (/[A-Za-z0-9]/.test(char)) return this.fail(`unknown escape \\${char}${inClass ? ' in a character class' : ''}`);
        return CharSet.of(char.codePointAt(0)!);
    }
  }

  private hex(length: number): number {
    const digits = this.chars.slice(this.position, this.position + length).join('');
    if (digits.length !== length || !/^[0-9a-fA-F]+$/.test(digits)) this.fail(`expected ${length} hex digits`);
    this.position += length;
    return parseInt(digits, 16);
  }

  private peek(): string | undefined {
    return this.chars[this.position];
  }

  private next(): string {
    return this.chars[this.position++] ?? '';
  }

  private fail(detail: string): never {
    throw new RegexSyntaxError(detail, Math.min(this.position, this.chars.length));
  }
}

function singleCodePoint(set: CharSet): number | undefined {
  const ranges = [...set.ranges()];
  return ranges.length === 1 && ranges[0]![0] === ranges[0]![1] ? ranges[0]![0] : undefined;
}

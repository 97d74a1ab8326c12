/**
 * Sets of Unicode code points as sorted, disjoint, inclusive ranges — the edge labels of the regex automaton.
 */

const MAX_CODE_POINT = 0x10ffff;

export class CharSet {
  /** Flattened `[lo0, hi0, lo1, hi1, …]`, sorted and non-overlapping. */
  private constructor(private readonly bounds: readonly number[]) {}

  static readonly EMPTY = new CharSet([]);
  static readonly ANY = new CharSet([0, MAX_CODE_POINT]);

  static of(codePoint: number): CharSet {
    return new CharSet([codePoint, codePoint]);
  }

  static range(low: number, high: number): CharSet {
    return new CharSet([low, high]);
  }

  /** The union of `[lo, hi]` pairs given in any order, overlapping or not. */
  static fromRanges(ranges: readonly (readonly [number, number])[]): CharSet {
    const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
    const bounds: number[] = [];
    for (const [low, high] of sorted) {
      const last = bounds.length - 1;
      if (last > 0 && low <= bounds[last]! + 1) bounds[last] = Math.max(bounds[last]!, high);
      else bounds.push(low, high);
    }
    return new CharSet(bounds);
  }

  union(other: CharSet): CharSet {
    return CharSet.fromRanges([...this.ranges(), ...other.ranges()]);
  }

  complement(): CharSet {
    const bounds: number[] = [];
    let next = 0;
    for (const [low, high] of this.ranges()) {
      if (low > next) bounds.push(next, low - 1);
      next = high + 1;
    }
    if (next <= MAX_CODE_POINT) bounds.push(next, MAX_CODE_POINT);
    return new CharSet(bounds);
  }

  /** The same text for equal sets (they are kept in one canonical form). */
  get key(): string {
    return this.bounds.join(',');
  }

  get isEmpty(): boolean {
    return this.bounds.length === 0;
  }

  has(codePoint: number): boolean {
    // Binary search over the range pairs.
    let low = 0;
    let high = this.bounds.length / 2 - 1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      if (codePoint < this.bounds[2 * middle]!) high = middle - 1;
      else if (codePoint > this.bounds[2 * middle + 1]!) low = middle + 1;
      else return true;
    }
    return false;
  }

  *ranges(): Generator<readonly [number, number]> {
    for (let i = 0; i < this.bounds.length; i += 2) yield [this.bounds[i]!, this.bounds[i + 1]!];
  }
}

const code = (character: string): number => character.codePointAt(0)!;

/** `\d` */
export const DIGIT = CharSet.range(code('0'), code('9'));
/** `\w` (ASCII, as in JavaScript) */
export const WORD = CharSet.fromRanges([
  [code('0'), code('9')],
  [code('A'), code('Z')],
  [code('_'), code('_')],
  [code('a'), code('z')],
]);
/** `\s` (JavaScript's white space and line terminators) */
export const SPACE = CharSet.fromRanges([
  [0x09, 0x0d],
  [0x20, 0x20],
  [0xa0, 0xa0],
  [0x1680, 0x1680],
  [0x2000, 0x200a],
  [0x2028, 0x2029],
  [0x202f, 0x202f],
  [0x205f, 0x205f],
  [0x3000, 0x3000],
  [0xfeff, 0xfeff],
]);
/** `.`: anything but a line terminator (JavaScript without the `s` flag). */
export const DOT = CharSet.fromRanges([
  [0x0a, 0x0a],
  [0x0d, 0x0d],
  [0x2028, 0x2029],
]).complement();

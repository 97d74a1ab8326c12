/**
 * The alphabet of an automaton cut into classes: code points that every edge label treats alike share a
 * class, so the automaton moves by class — a handful for most patterns, however many code points a label
 * such as `.` covers — instead of by code point.
 */
import type { BuildBudget } from './build-budget.js';
import type { CharSet } from './char-set.js';

const MAX_CODE_POINT = 0x10ffff;

export class Alphabet {
  private constructor(
    /** The first code point of each interval between label boundaries, ascending from 0. */
    private readonly starts: Int32Array,
    /** The class of each interval. */
    private readonly intervalClasses: Int32Array,
    /** Number of classes. */
    readonly size: number,
  ) {}

  /** The coarsest classes such that each of `labels` is a union of classes; the work is charged to `budget`. */
  static of(labels: readonly CharSet[], budget: BuildBudget): Alphabet {
    const distinct = [...new Map(labels.map((set) => [set.key, set])).values()];
    const cuts = new Set<number>([0]);
    for (const set of distinct) {
      for (const [low, high] of set.ranges()) {
        cuts.add(low);
        if (high < MAX_CODE_POINT) cuts.add(high + 1);
      }
    }
    const starts = Int32Array.from(cuts).sort();
    const classes = new Int32Array(starts.length);
    let next = 1;
    // Refines the partition by each label in turn: the intervals inside it leave their class for a new one.
    // Splitting by a label or by its complement gives the same classes, so the smaller side is walked.
    for (const set of distinct) {
      const spans = spansOf(starts, set);
      const covered = spans.reduce((sum, [from, to]) => sum + to - from, 0);
      const walked = covered * 2 <= starts.length ? spans : gapsOf(spans, starts.length);
      const split = new Map<number, number>();
      for (const [from, to] of walked) {
        budget.spend(to - from);
        for (let interval = from; interval < to; interval++) {
          const before = classes[interval]!;
          let after = split.get(before);
          if (after === undefined) split.set(before, (after = next++));
          classes[interval] = after;
        }
      }
    }
    const renumbered = new Map<number, number>();
    for (let i = 0; i < classes.length; i++) {
      let id = renumbered.get(classes[i]!);
      if (id === undefined) renumbered.set(classes[i]!, (id = renumbered.size));
      classes[i] = id;
    }
    return new Alphabet(starts, classes, renumbered.size);
  }

  /** The class of `codePoint`. */
  classOf(codePoint: number): number {
    const { starts } = this;
    let low = 0;
    let high = starts.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >>> 1;
      if (starts[middle]! <= codePoint) low = middle;
      else high = middle - 1;
    }
    return this.intervalClasses[low]!;
  }

  /**
   * The classes `set` is the union of, ascending (`set` must be one of the labels the alphabet was built
   * from); the work is charged to `budget`.
   */
  classesOf(set: CharSet, budget: BuildBudget): Int32Array {
    const seen = new Uint8Array(this.size);
    for (const [from, to] of spansOf(this.starts, set)) {
      budget.spend(to - from);
      for (let interval = from; interval < to; interval++) seen[this.intervalClasses[interval]!] = 1;
    }
    const classes: number[] = [];
    for (let id = 0; id < seen.length; id++) if (seen[id] === 1) classes.push(id);
    return Int32Array.from(classes);
  }
}

/** The intervals `set` covers, as `[from, to)` spans of interval indices (its ranges fall on boundaries). */
function spansOf(starts: Int32Array, set: CharSet): (readonly [number, number])[] {
  const spans: (readonly [number, number])[] = [];
  for (const [low, high] of set.ranges()) spans.push([firstAtOrAbove(starts, low), firstAtOrAbove(starts, high + 1)]);
  return spans;
}

/** The spans of `0 .. total` between the sorted, disjoint `spans`. */
function gapsOf(spans: readonly (readonly [number, number])[], total: number): (readonly [number, number])[] {
  const gaps: (readonly [number, number])[] = [];
  let at = 0;
  for (const [from, to] of spans) {
    if (from > at) gaps.push([at, from]);
    at = to;
  }
  if (at < total) gaps.push([at, total]);
  return gaps;
}

/** The index of the first start at or above `value` (`starts.length` when there is none). */
function firstAtOrAbove(starts: Int32Array, value: number): number {
  let low = 0;
  let high = starts.length - 1;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    if (starts[middle]! < value) low = middle + 1;
    else high = middle - 1;
  }
  return low;
}

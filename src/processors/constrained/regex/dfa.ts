/**
 * Subset construction, done whole at `Start`: a DFA state is the epsilon-closed set of live NFA states, and
 * it moves by alphabet class (`alphabet.ts`). Building it all up front is what lets a pattern be refused
 * before decoding when its automaton is too large (more than `PROCESSOR_LIMITS.regexDfaStates` states, or
 * more work than `regexBuildVisits`), and leaves each decoding step table look-ups only.
 *
 * Usage:
 * ```ts
 * const dfa = determinize(buildNfa(parseRegex('\\d{1,2}-\\d')));   // throws PatternTooLargeError
 * let state = dfa.start;                                            // DEAD when nothing matches
 * for (const char of '12-3') state = state === DEAD ? DEAD : dfa.next(state, char.codePointAt(0)!);
 * state !== DEAD && dfa.isAccepting(state);                          // true
 * ```
 */
import { count } from '../../echo.js';
import { PROCESSOR_LIMITS } from '../../limits.js';
import { Alphabet } from './alphabet.js';
import { BuildBudget } from './build-budget.js';
import type { CharSet } from './char-set.js';
import { PatternTooLargeError, type Nfa } from './nfa.js';

/** The state after which no text can complete a match. */
export const DEAD = -1;

export interface DfaLimits {
  /** Most DFA states. */
  readonly states: number;
  /** Most NFA-state (and alphabet-interval) visits while building. */
  readonly visits: number;
}

const DEFAULT_LIMITS: DfaLimits = { states: PROCESSOR_LIMITS.regexDfaStates, visits: PROCESSOR_LIMITS.regexBuildVisits };

/** Largest transition table (states × classes) kept dense, for moves by index; larger ones stay sparse. */
const MAX_DENSE_CELLS = 1 << 18;

export class Dfa {
  /** `table[state * classes + class]`, the move of each state by each class, when small enough to keep. */
  private readonly table: Int32Array | undefined;

  constructor(
    readonly alphabet: Alphabet,
    /** The state before any text; `DEAD` when the pattern matches nothing. */
    readonly start: number,
    private readonly accepting: Uint8Array,
    /** Where each state's moves start in `moveClasses` / `moveTargets`, one more entry than states. */
    private readonly moveStart: Int32Array,
    /** The class of each move, ascending within a state; classes without a move lead to `DEAD`. */
    private readonly moveClasses: Int32Array,
    private readonly moveTargets: Int32Array,
    /** The work building it took, in the units of `DfaLimits.visits`. */
    readonly buildVisits: number,
  ) {
    const classes = alphabet.size;
    if (accepting.length * classes <= MAX_DENSE_CELLS) {
      const table = new Int32Array(accepting.length * classes).fill(DEAD);
      for (let state = 0; state < accepting.length; state++) {
        for (let at = moveStart[state]!; at < moveStart[state + 1]!; at++) table[state * classes + moveClasses[at]!] = moveTargets[at]!;
      }
      this.table = table;
    }
  }

  /** Number of states. */
  get size(): number {
    return this.accepting.length;
  }

  /** Whether the text that led to `state` matches the whole pattern. */
  isAccepting(state: number): boolean {
    return this.accepting[state] === 1;
  }

  /** The state after `codePoint` from `state` (not `DEAD`); `DEAD` when no match can follow. */
  next(state: number, codePoint: number): number {
    return this.move(state, this.alphabet.classOf(codePoint));
  }

  /** The state after a code point of class `wanted` from `state` (not `DEAD`); `DEAD` when no match can follow. */
  move(state: number, wanted: number): number {
    if (this.table !== undefined) return this.table[state * this.alphabet.size + wanted]!;
    let low = this.moveStart[state]!;
    let high = this.moveStart[state + 1]! - 1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      const at = this.moveClasses[middle]!;
      if (at < wanted) low = middle + 1;
      else if (at > wanted) high = middle - 1;
      else return this.moveTargets[middle]!;
    }
    return DEAD;
  }
}

/** Builds the whole DFA of `nfa`; throws `PatternTooLargeError` naming the limit it would pass. */
export function determinize(nfa: Nfa, limits: DfaLimits = DEFAULT_LIMITS): Dfa {
  const budget = new BuildBudget(limits.visits);
  const moves = liveMoves(nfa, budget);
  const states = new StateSets(nfa, moves.of, budget, limits.states);
  const start = states.intern(StateList.of(nfa.start));
  const moveStart: number[] = [];
  const moveClasses: number[] = [];
  const moveTargets: number[] = [];
  const targets = Array.from({ length: moves.alphabet.size }, () => new StateList());
  for (let id = 0; id < states.count; id++) {
    const touched: number[] = [];
    for (const state of states.members(id)) {
      for (const { classes, to } of moves.of[state]!) {
        budget.spend(classes.length);
        for (const label of classes) {
          if (targets[label]!.length === 0) touched.push(label);
          targets[label]!.push(to);
        }
      }
    }
    moveStart.push(moveClasses.length);
    for (const label of touched.sort((a, b) => a - b)) {
      const target = states.intern(targets[label]!);
      targets[label]!.length = 0;
      if (target !== DEAD) {
        moveClasses.push(label);
        moveTargets.push(target);
      }
    }
  }
  moveStart.push(moveClasses.length);
  return new Dfa(
    moves.alphabet,
    start,
    states.acceptingFlags(),
    Int32Array.from(moveStart),
    Int32Array.from(moveClasses),
    Int32Array.from(moveTargets),
    budget.spent,
  );
}

/** Each NFA state's labelled edges into live states, with the alphabet classes of their labels. */
function liveMoves(nfa: Nfa, budget: BuildBudget): { alphabet: Alphabet; of: { classes: Int32Array; to: number }[][] } {
  const labels = new Set<CharSet>();
  nfa.edges.forEach((edges, from) => {
    if (nfa.live[from]) for (const edge of edges) if (nfa.live[edge.to]) labels.add(edge.set);
  });
  const alphabet = Alphabet.of([...labels], budget);
  const classesBySet = new Map<CharSet, Int32Array>();
  const classesByKey = new Map<string, Int32Array>();
  const classesOf = (set: CharSet): Int32Array => {
    let classes = classesBySet.get(set);
    if (classes === undefined) {
      classes = classesByKey.get(set.key);
      if (classes === undefined) classesByKey.set(set.key, (classes = alphabet.classesOf(set, budget)));
      classesBySet.set(set, classes);
    }
    return classes;
  };
  const of = nfa.edges.map((edges, from) =>
    !nfa.live[from] ? [] : edges.filter((edge) => nfa.live[edge.to]).map((edge) => ({ classes: classesOf(edge.set), to: edge.to })),
  );
  return { alphabet, of };
}

/**
 * The DFA states found so far, each the epsilon closure (over live NFA states) of the states some move
 * reaches, kept as the states of it that have moves of their own, and whether it holds the accepting state:
 * closures that differ only in states with epsilon moves alone (the ends of an alternation's options, say)
 * behave alike and are one DFA state. A closure is marked in one reusable array, and a known state is
 * recognised by an order-independent hash of its members checked against those marks: no set is sorted or
 * turned into a key.
 */
class StateSets {
  private readonly marks: Int32Array;
  private readonly found: Int32Array;
  /** The epsilon moves into live states, flat: state s's are `epsilonTargets[epsilonStart[s] .. epsilonStart[s + 1])`. */
  private readonly epsilonStart: Int32Array;
  private readonly epsilonTargets: Int32Array;
  private readonly live: Uint8Array;
  /** Whether each NFA state has a labelled move into a live state. */
  private readonly moving: Uint8Array;
  private stamp = 0;
  private readonly sets: Int32Array[] = [];
  private readonly accepting: number[] = [];
  private readonly byHash = new Map<number, number[]>();

  constructor(
    private readonly nfa: Nfa,
    moves: readonly (readonly unknown[])[],
    private readonly budget: BuildBudget,
    private readonly maxStates: number,
  ) {
    const states = nfa.edges.length;
    this.moving = Uint8Array.from(moves, (list) => (list.length > 0 ? 1 : 0));
    this.marks = new Int32Array(states);
    this.found = new Int32Array(states);
    this.live = Uint8Array.from(nfa.live, (live) => (live ? 1 : 0));
    this.epsilonStart = new Int32Array(states + 1);
    const targets: number[] = [];
    for (let state = 0; state < states; state++) {
      this.epsilonStart[state] = targets.length;
      for (const to of nfa.epsilons[state]!) if (nfa.live[to]) targets.push(to);
    }
    this.epsilonStart[states] = targets.length;
    this.epsilonTargets = Int32Array.from(targets);
  }

  get count(): number {
    return this.sets.length;
  }

  /** The NFA states of DFA state `id` that have moves. */
  members(id: number): Int32Array {
    return this.sets[id]!;
  }

  acceptingFlags(): Uint8Array {
    return Uint8Array.from(this.accepting);
  }

  /** The DFA state of the closure of `seeds`, added when new; `DEAD` when the closure is empty. */
  intern(seeds: StateList): number {
    const closed = this.close(seeds);
    if (closed === 0) return DEAD;
    const { found, moving } = this;
    let size = 0;
    for (let i = 0; i < closed; i++) if (moving[found[i]!] === 1) found[size++] = found[i]!;
    const accepting = this.marks[this.nfa.accept] === this.stamp ? 1 : 0;
    let hash = size * 2 + accepting;
    for (let i = 0; i < size; i++) hash = (hash + mix(found[i]!)) | 0;
    const candidates = this.byHash.get(hash);
    for (const id of candidates ?? []) if (this.accepting[id] === accepting && this.isMarked(this.sets[id]!, size)) return id;
    const id = this.sets.length;
    if (id === this.maxStates) {
      throw new PatternTooLargeError(
        `its automaton has more than ${count(this.maxStates)} states; use fewer or smaller counted repetitions`,
      );
    }
    this.sets.push(found.slice(0, size));
    this.accepting.push(accepting);
    if (candidates === undefined) this.byHash.set(hash, [id]);
    else candidates.push(id);
    return id;
  }

  /** Marks the closure of `seeds` with a new stamp and lists it in `found`; returns its size. */
  private close(seeds: StateList): number {
    const { marks, found, live, epsilonStart, epsilonTargets } = this;
    const stamp = ++this.stamp;
    let size = 0;
    for (let i = 0; i < seeds.length; i++) {
      const seed = seeds.items[i]!;
      if (live[seed] === 1 && marks[seed] !== stamp) {
        marks[seed] = stamp;
        found[size++] = seed;
      }
    }
    let visits = 0;
    for (let at = 0; at < size; at++) {
      const state = found[at]!;
      const end = epsilonStart[state + 1]!;
      visits += 1 + end - epsilonStart[state]!;
      for (let move = epsilonStart[state]!; move < end; move++) {
        const to = epsilonTargets[move]!;
        if (marks[to] !== stamp) {
          marks[to] = stamp;
          found[size++] = to;
        }
      }
    }
    this.budget.spend(visits);
    return size;
  }

  /** Whether `set` is exactly the moving states of the closure just marked (`size` of them). */
  private isMarked(set: Int32Array, size: number): boolean {
    if (set.length !== size) return false;
    this.budget.spend(size);
    for (let i = 0; i < set.length; i++) if (this.marks[set[i]!] !== this.stamp) return false;
    return true;
  }
}

/** A list of NFA states in a buffer kept from one use to the next. */
class StateList {
  items = new Int32Array(16);
  length = 0;

  static of(state: number): StateList {
    const list = new StateList();
    list.push(state);
    return list;
  }

  push(state: number): void {
    if (this.length === this.items.length) {
      const grown = new Int32Array(this.items.length * 2);
      grown.set(this.items);
      this.items = grown;
    }
    this.items[this.length++] = state;
  }
}

/** A 32-bit mix of a state number (the finaliser of MurmurHash3), summed into a set's hash. */
function mix(value: number): number {
  let h = Math.imul(value ^ (value >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

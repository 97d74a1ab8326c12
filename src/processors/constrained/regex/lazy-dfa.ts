/**
 * Subset construction on demand: a DFA state is the epsilon-closed set of live NFA states; transitions are
 * computed the first time a code point is fed from a state and cached. Only the states the decoding (and the
 * token masks) actually visit are ever built.
 */
import type { Nfa } from './nfa.js';

export interface DfaState {
  readonly id: number;
  /** Whether the text read so far matches the whole pattern. */
  readonly accepting: boolean;
  readonly nfaStates: Int32Array;
  /** Cached moves; `null` marks a dead end. */
  readonly transitions: Map<number, DfaState | null>;
}

export class LazyDfa {
  readonly start: DfaState | null;
  private readonly states = new Map<string, DfaState>();

  constructor(private readonly nfa: Nfa) {
    this.start = this.intern([nfa.start]);
  }

  /** Number of DFA states built so far. */
  get size(): number {
    return this.states.size;
  }

  /** The state after reading `codePoint` from `state`; null when no match can follow. */
  next(state: DfaState, codePoint: number): DfaState | null {
    const cached = state.transitions.get(codePoint);
    if (cached !== undefined) return cached;
    const targets: number[] = [];
    for (const nfaState of state.nfaStates) {
      for (const edge of this.nfa.edges[nfaState]!) if (edge.set.has(codePoint)) targets.push(edge.to);
    }
    const result = this.intern(targets);
    state.transitions.set(codePoint, result);
    return result;
  }

  /** The DFA state of the epsilon closure of `seeds`, restricted to live states; null when empty. */
  private intern(seeds: readonly number[]): DfaState | null {
    const { epsilons, live, accept } = this.nfa;
    const seen = new Set<number>();
    const stack = seeds.filter((state) => live[state]);
    for (const state of stack) seen.add(state);
    while (stack.length > 0) {
      for (const to of epsilons[stack.pop()!]!) {
        if (live[to] && !seen.has(to)) {
          seen.add(to);
          stack.push(to);
        }
      }
    }
    if (seen.size === 0) return null;
    const nfaStates = Int32Array.from(seen).sort();
    const key = nfaStates.join(',');
    let state = this.states.get(key);
    if (state === undefined) {
      state = { id: this.states.size, accepting: seen.has(accept), nfaStates, transitions: new Map() };
      this.states.set(key, state);
    }
    return state;
  }
}

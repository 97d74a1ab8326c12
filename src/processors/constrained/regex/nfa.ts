/**
 * Thompson construction: a regex tree becomes an NFA whose edges are labelled by character sets or are
 * epsilon moves. States that cannot reach the accepting state are pruned afterwards, so that any non-empty
 * set of live states can still be completed to a match — the property the token masks rely on.
 */
import { count } from '../../echo.js';
import { PROCESSOR_LIMITS } from '../../limits.js';
import type { CharSet } from './char-set.js';
import type { RegexNode } from './parser.js';

/** Most NFA states a pattern may expand to (repetitions copy their operand). */
export const MAX_NFA_STATES = PROCESSOR_LIMITS.regexNfaStates;

export interface NfaEdge {
  readonly set: CharSet;
  readonly to: number;
}

export interface Nfa {
  readonly start: number;
  readonly accept: number;
  /** Labelled edges of each state. */
  readonly edges: readonly (readonly NfaEdge[])[];
  /** Epsilon moves of each state. */
  readonly epsilons: readonly (readonly number[])[];
  /** Whether each state can still reach `accept`. */
  readonly live: readonly boolean[];
}

/** A pattern whose automaton would exceed one of the limits; the message names it. */
export class PatternTooLargeError extends Error {
  override readonly name = 'PatternTooLargeError';
}

export function buildNfa(root: RegexNode): Nfa {
  const edges: NfaEdge[][] = [];
  const epsilons: number[][] = [];
  const addState = (): number => {
    if (edges.length >= MAX_NFA_STATES) {
      throw new PatternTooLargeError(`the pattern expands to more than ${count(MAX_NFA_STATES)} automaton states`);
    }
    edges.push([]);
    epsilons.push([]);
    return edges.length - 1;
  };
  const connect = (from: number, to: number): void => {
    epsilons[from]!.push(to);
  };

  /** Adds the states of `node` after `from`; returns the state where it ends. */
  const build = (node: RegexNode, from: number): number => {
    switch (node.type) {
      case 'empty':
        return from;
      case 'set': {
        const to = addState();
        if (!node.set.isEmpty) edges[from]!.push({ set: node.set, to });
        return to;
      }
      case 'concat':
        return node.items.reduce((at, item) => build(item, at), from);
      case 'alternation': {
        // The options start from `from` itself: no construction adds a move into the state it starts from, so
        // no path leads from one option into another, and a closure holds one state for all the options.
        const end = addState();
        for (const option of node.options) connect(build(option, from), end);
        return end;
      }
      case 'repeat': {
        let at = from;
        for (let i = 0; i < node.min; i++) at = build(node.item, at);
        if (node.max === Infinity) {
          const loop = addState();
          connect(at, loop);
          connect(build(node.item, loop), loop);
          const end = addState();
          connect(loop, end);
          return end;
        }
        const end = addState();
        for (let i = node.min; i < node.max; i++) {
          connect(at, end);
          at = build(node.item, at);
        }
        connect(at, end);
        return end;
      }
    }
  };

  const start = addState();
  const accept = build(root, start);
  return { start, accept, edges, epsilons, live: liveStates(edges, epsilons, accept) };
}

/** States from which `accept` is reachable (reverse search over epsilon and labelled edges). */
function liveStates(edges: readonly (readonly NfaEdge[])[], epsilons: readonly (readonly number[])[], accept: number): boolean[] {
  const predecessors: number[][] = edges.map(() => []);
  edges.forEach((out, from) => out.forEach((edge) => predecessors[edge.to]!.push(from)));
  epsilons.forEach((out, from) => out.forEach((to) => predecessors[to]!.push(from)));
  const live = edges.map(() => false);
  const stack = [accept];
  live[accept] = true;
  while (stack.length > 0) {
    for (const from of predecessors[stack.pop()!]!) {
      if (!live[from]) {
        live[from] = true;
        stack.push(from);
      }
    }
  }
  return live;
}

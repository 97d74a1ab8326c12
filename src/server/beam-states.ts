/**
 * The decode states behind a beam search's live beams. At the start every beam is the decoder prompt, so
 * they share one state; after a step, each next beam continues a state of this step with its token: a
 * state that several next beams continue is forked (its KV cache copied) for all but the last, which takes
 * the state itself, and a state no next beam continues is disposed. So there is never more than one state
 * per live beam, and each step's states sit at the same position (one batched decoder run).
 *
 * Usage:
 * ```ts
 * const states = new BeamStates(model.createState(encoded), 4, (state) => state.fork());
 * const rows = await model.step(states.distinct);   // states.rowOf[b]: the row of live beam b
 * states.advance(outcome.next);                     // forks, appends each beam's token, disposes the rest
 * states.dispose();
 * ```
 */
import type { BeamMove } from '../processors/index.js';
import type { DecodeState } from '../runtime/types.js';

/** A new state on the same input with the same tokens and a copy of the KV cache. */
export type ForkState = (state: DecodeState) => DecodeState;

export class BeamStates {
  /** The state of each live beam (the same state for beams that share one). */
  private states: DecodeState[];
  private disposed = false;

  constructor(
    first: DecodeState,
    beams: number,
    private readonly fork: ForkState,
  ) {
    this.states = Array.from({ length: beams }, () => first);
  }

  /** Each state once, in the order of the first beam that has it. */
  get distinct(): DecodeState[] {
    return [...new Set(this.states)];
  }

  /** For each live beam, the index of its state in `distinct`. */
  get rowOf(): number[] {
    const distinct = this.distinct;
    return this.states.map((state) => distinct.indexOf(state));
  }

  /** Live beam i becomes `moves[i].token` appended to the state of live beam `moves[i].source`. */
  advance(moves: readonly BeamMove[]): void {
    const sources = moves.map((move) => this.states[move.source]!);
    const usesLeft = new Map<DecodeState, number>();
    for (const state of sources) usesLeft.set(state, (usesLeft.get(state) ?? 0) + 1);
    for (const state of this.distinct) if (!usesLeft.has(state)) state.dispose();
    this.states = sources.filter((state) => usesLeft.has(state));
    const next: DecodeState[] = [];
    try {
      moves.forEach((move, i) => {
        const source = sources[i]!;
        const left = usesLeft.get(source)! - 1;
        usesLeft.set(source, left);
        // Forks come before the source's own append: the last beam that continues the source takes it.
        const state = left > 0 ? this.fork(source) : source;
        next.push(state);
        state.append(move.token);
      });
    } catch (error) {
      // The forks made so far are freed with the sources (which `dispose` frees); nothing is left alive.
      for (const state of next) if (!sources.includes(state)) state.dispose();
      throw error;
    }
    this.states = next;
  }

  /** Disposes every state; idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const state of this.distinct) state.dispose();
  }
}

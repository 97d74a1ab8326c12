/**
 * Steps the model thread runs before it is asked for them.
 *
 * Between two steps of a stream, the model thread would idle while the serving thread reads the row,
 * chooses the token and sends the next request (in LOCKSTEP, while the client decides too), and for
 * longer when sixteen streams' rows are handled between two batched runs. When a step's
 * member carries a hint of its next token (`NextTokenHint`), the thread instead appends that token as
 * soon as the step's rows are posted and runs the following step at once. When the request for it
 * arrives with exactly that token, its row is ready (or nearly); otherwise the guess is taken back
 * (`rewind(1, { keepLastCached })`: the cache keeps what it held before the guess, bit for bit) and the
 * request runs as it would have. A guess never changes a result; one that misses costs a run.
 */
// The serving thread's greedy rule itself, so that a guess is exactly the token greedy selection takes.
import { argmaxOfFinite } from '../../numeric/argmax.js';
import type { DecodeState, ModelRuntime, NextTokenHint } from '../types.js';
import type { RunAheadStats, StateEdit, StepMember } from './worker-protocol.js';

/** A step run ahead: the token it ran on and the row it returned (valid until the state's next run). */
interface AheadStep {
  readonly token: number;
  readonly row: Float32Array;
}

export class RunAhead {
  private readonly ahead = new Map<number, AheadStep>();
  private readonly counts = { guessed: 0, hits: 0 };

  /** Guesses run and how many of them a request then took, since the thread started. */
  get stats(): RunAheadStats {
    return { ...this.counts };
  }

  /**
   * Brings `state` to what `member`'s request asks for. Returns the row of a step already run ahead on
   * exactly the token the request appends; otherwise undefined, after undoing any guess and replaying the
   * request's edits (the step then runs as usual).
   */
  take(state: DecodeState, member: StepMember): Float32Array | undefined {
    const guess = this.ahead.get(member.stateId);
    if (guess !== undefined) {
      this.ahead.delete(member.stateId);
      if (appendsExactly(member.edits, guess.token)) {
        this.counts.hits += 1;
        return guess.row;
      }
      state.rewind(1, { keepLastCached: true });
    }
    member.edits.forEach((edit) => applyEdit(state, edit));
    return undefined;
  }

  /**
   * Runs the step after the one that returned `rows`, for every member whose hint gives a token, on that
   * token. A failed run leaves the states as they were: the request that needs the step runs it again
   * and reports what fails then.
   */
  async run(model: ModelRuntime, states: readonly DecodeState[], members: readonly StepMember[], rows: readonly Float32Array[]): Promise<void> {
    const guessed: DecodeState[] = [];
    const stateIds: number[] = [];
    const tokens: number[] = [];
    members.forEach((member, index) => {
      const state = states[index]!;
      const token = member.next === undefined ? undefined : expectedToken(member.next, rows[index]!);
      if (token === undefined || state.disposed) return;
      try {
        state.append(token);
      } catch {
        return; // an id outside the vocabulary: the request will say so
      }
      guessed.push(state);
      stateIds.push(member.stateId);
      tokens.push(token);
    });
    if (guessed.length === 0) return;
    let ahead: Float32Array[];
    try {
      ahead = await model.step(guessed);
    } catch {
      for (const state of guessed) if (!state.disposed) state.rewind(1, { keepLastCached: true });
      return;
    }
    this.counts.guessed += guessed.length;
    ahead.forEach((row, index) => {
      if (row.length > 0) this.ahead.set(stateIds[index]!, { token: tokens[index]!, row });
    });
  }

  /** Whether state `stateId` holds a step run ahead on a guess (its last token is the guess). */
  guessed(stateId: number): boolean {
    return this.ahead.has(stateId);
  }

  /** Drops a disposed state's guess. */
  forget(stateId: number): void {
    this.ahead.delete(stateId);
  }

  /** Drops every guess (the model is being disposed). */
  clear(): void {
    this.ahead.clear();
  }
}

/** Replays one edit the main thread made on its handle. */
export function applyEdit(state: DecodeState, edit: StateEdit): void {
  if ('rewind' in edit) state.rewind(edit.rewind, { keepLastCached: edit.keepLastCached === true });
  else for (const token of edit.append) state.append(token);
}

/** The token a hint names for `row`, or undefined when there is none to run ahead on. */
function expectedToken(hint: NextTokenHint, row: Float32Array): number | undefined {
  if (hint.kind === 'token') return hint.token;
  const token = argmaxOfFinite(row);
  return token < 0 || hint.unless.includes(token) ? undefined : token;
}

function appendsExactly(edits: readonly StateEdit[], token: number): boolean {
  if (edits.length !== 1) return false;
  const edit = edits[0]!;
  return 'append' in edit && edit.append.length === 1 && edit.append[0] === token;
}

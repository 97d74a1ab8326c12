/**
 * The work allowed for compiling one pattern, counted in visits of automaton states (and of alphabet
 * intervals): compiling runs on the serving thread at `Start`, so a pattern whose automaton costs more is
 * refused there, whatever made it costly.
 */
import { count } from '../../echo.js';
import { PatternTooLargeError } from './nfa.js';

export class BuildBudget {
  private used = 0;

  constructor(readonly limit: number) {}

  /** Visits charged so far. */
  get spent(): number {
    return this.used;
  }

  /** Charges `visits`; throws `PatternTooLargeError` once the total passes the limit. */
  spend(visits: number): void {
    this.used += visits;
    if (this.used > this.limit) {
      throw new PatternTooLargeError(
        `its automaton is too costly to build: more than ${count(this.limit)} state visits; use fewer or smaller ` +
          'counted repetitions',
      );
    }
  }
}

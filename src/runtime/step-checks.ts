/**
 * The checks every `ModelRuntime.step` implementation makes before it runs anything, shared so that the
 * in-process model and the worker-thread model refuse the same calls with the same messages.
 */
import { InvalidInputError, StateError } from './errors.js';
import type { DecodeState } from './types.js';

/**
 * Returns `states` as the model's own state class, or throws: a state of another model (or not a state),
 * the same state twice, a disposed state, a state already stepping, or one with no new token to feed.
 * `isStepping` says whether a state's step is under way (the scheduler counts one from its request on).
 */
export function checkStepStates<S extends DecodeState>(
  states: readonly DecodeState[],
  isOwn: (state: DecodeState) => state is S,
  isStepping: (state: S) => boolean,
): S[] {
  if (!Array.isArray(states)) throw new InvalidInputError(`\`states\` must be an array of decode states; given ${typeof states}`);
  const seen = new Map<DecodeState, number>();
  return states.map((state, index) => {
    if (!isOwn(state)) throw new InvalidInputError(`states[${index}] is not a decode state of this model`);
    const earlier = seen.get(state);
    if (earlier !== undefined) {
      throw new InvalidInputError(`states[${index}] is the same decode state as states[${earlier}]; a state steps once per call`);
    }
    seen.set(state, index);
    if (state.disposed) throw new StateError(`states[${index}] (decode state ${state.id}) is disposed`);
    if (isStepping(state)) throw new StateError(`states[${index}] (decode state ${state.id}) is already stepping`);
    if (state.tokens.length === state.cachedLength) {
      throw new StateError(`states[${index}] (decode state ${state.id}) has no new token; append one before the next step`);
    }
    return state;
  });
}

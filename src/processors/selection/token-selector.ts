/**
 * How a stream turns processed scores into a token: greedy or seeded sampling.
 */
import { selectGreedy, selectGreedyWithSummary } from './greedy.js';
import { SeededDraws, sampleWithSummary, type Sample } from './sampling.js';

export type SelectionConfig =
  | { readonly mode: 'greedy' }
  | { readonly mode: 'sample'; readonly seed: bigint | number; readonly stream?: bigint | number };

export interface TokenSelector {
  readonly mode: 'greedy' | 'sample';
  /** The chosen id; throws `EmptyDistributionError` when no score is finite. */
  select(scores: Float32Array, step: number): number;
  /** Selects and returns the row's statistics with the token, where selecting computes them (both modes do). */
  selectWithSummary?(scores: Float32Array, step: number): Sample;
}

export function createTokenSelector(config: SelectionConfig): TokenSelector {
  if (config.mode === 'greedy') return { mode: 'greedy', select: selectGreedy, selectWithSummary: selectGreedyWithSummary };
  const draws = new SeededDraws(config.seed, config.stream);
  const selectWithSummary = (scores: Float32Array, step: number): Sample => sampleWithSummary(scores, draws.uniform(step), step);
  return { mode: 'sample', select: (scores, step) => selectWithSummary(scores, step).token, selectWithSummary };
}

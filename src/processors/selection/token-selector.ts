/**
 * How a stream turns processed scores into a token: greedy or seeded sampling.
 */
import { selectGreedy } from './greedy.js';
import { SeededDraws, sampleWithSummary, type Sample } from './sampling.js';

export type SelectionConfig =
  | { readonly mode: 'greedy' }
  | { readonly mode: 'sample'; readonly seed: bigint | number; readonly stream?: bigint | number };

export interface TokenSelector {
  readonly mode: 'greedy' | 'sample';
  /** The chosen id; throws `EmptyDistributionError` when no score is finite. */
  select(scores: Float32Array, step: number): number;
  /** When selecting already computes the row's statistics (sampling does), returns them with the token. */
  selectWithSummary?(scores: Float32Array, step: number): Sample;
}

export function createTokenSelector(config: SelectionConfig): TokenSelector {
  if (config.mode === 'greedy') return { mode: 'greedy', select: selectGreedy };
  const draws = new SeededDraws(config.seed, config.stream);
  const selectWithSummary = (scores: Float32Array, step: number): Sample => sampleWithSummary(scores, draws.uniform(step), step);
  return { mode: 'sample', select: (scores, step) => selectWithSummary(scores, step).token, selectWithSummary };
}

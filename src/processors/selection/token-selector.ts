/**
 * How a stream turns processed scores into a token: greedy or seeded sampling.
 */
import { selectGreedy } from './greedy.js';
import { SeededDraws, sampleFromScores } from './sampling.js';

export type SelectionConfig =
  | { readonly mode: 'greedy' }
  | { readonly mode: 'sample'; readonly seed: bigint | number; readonly stream?: bigint | number };

export interface TokenSelector {
  readonly mode: 'greedy' | 'sample';
  /** The chosen id; throws `EmptyDistributionError` when no score is finite. */
  select(scores: Float32Array, step: number): number;
}

export function createTokenSelector(config: SelectionConfig): TokenSelector {
  if (config.mode === 'greedy') return { mode: 'greedy', select: selectGreedy };
  const draws = new SeededDraws(config.seed, config.stream);
  return { mode: 'sample', select: (scores, step) => sampleFromScores(scores, draws.uniform(step), step) };
}

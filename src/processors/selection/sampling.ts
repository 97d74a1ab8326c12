/**
 * Sampling from softmax(processed scores) with a seeded, counter-based draw.
 */
import { EmptyDistributionError } from '../errors.js';
import { BINS, binOf, sharedExpHistogram } from '../math/exp-histogram.js';
import { counterUniform } from './counter-random.js';
import { finiteMaximum } from './finite.js';
import type { ScoreSummary } from './score-statistics.js';

/** A sampled token with the statistics of the row it was drawn from (computed in the same pass). */
export interface Sample {
  readonly token: number;
  readonly summary: ScoreSummary;
}

/**
 * Draws a token with probability softmax(row) using one uniform number, in two steps that together are an
 * exact inverse-CDF draw: `uniform` first picks a bin of the distance-to-maximum histogram (by mass, most
 * likely bins first), then the rest of it picks a token inside that bin (in vocabulary order). One `exp` per
 * token plus one per member of the chosen bin. Non-finite scores have probability 0. Throws
 * `EmptyDistributionError` when no score is finite.
 *
 * Hugging Face draws with `torch.multinomial` from PyTorch's global generator; its draws cannot be
 * reproduced outside PyTorch, so only the distribution matches, not the sampled ids.
 */
export function sampleWithSummary(row: Float32Array, uniform: number, step: number): Sample {
  const max = finiteMaximum(row);
  if (max === -Infinity) throw new EmptyDistributionError(step, []);
  const histogram = sharedExpHistogram;
  histogram.fill(row, max);
  const { counts, masses, total } = histogram;
  const summary: ScoreSummary = { max, logSum: Math.log(total), meanShifted: histogram.weightedShift / total };

  let remaining = uniform * total;
  let chosen = -1;
  for (let bin = 0; bin < BINS; bin++) {
    if (counts[bin] === 0 || masses[bin] === 0) continue;
    chosen = bin;
    if (remaining < masses[bin]!) break;
    remaining -= masses[bin]!;
  }
  // Rounding can leave `remaining` just past the last bin's mass: the draw then belongs to that bin's end.
  let last = -1;
  let cumulative = 0;
  for (let i = 0; i < row.length; i++) {
    const score = row[i]!;
    if (!(score > -Infinity) || score === Infinity || binOf(max - score) !== chosen) continue;
    const weight = Math.exp(score - max);
    if (weight === 0) continue;
    cumulative += weight;
    last = i;
    if (cumulative > remaining) return { token: i, summary };
  }
  return { token: last, summary };
}

/** The token of `sampleWithSummary`. */
export function sampleFromScores(row: Float32Array, uniform: number, step: number): number {
  return sampleWithSummary(row, uniform, step).token;
}

/** Draws of one stream: `uniform(step)` depends only on (seed, stream, step). */
export class SeededDraws {
  private readonly seed: bigint;
  private readonly stream: bigint;

  /**
   * @param seed any integer in [0, 2^64)
   * @param stream distinguishes several samples drawn with one seed (e.g. the n-th sequence of a request)
   */
  constructor(seed: bigint | number, stream: bigint | number = 0n) {
    this.seed = toUint64(seed, 'seed');
    this.stream = toUint64(stream, 'stream');
  }

  uniform(step: number): number {
    return counterUniform(this.seed, this.stream, step);
  }
}

function toUint64(value: bigint | number, what: string): bigint {
  if (typeof value === 'number' && !Number.isSafeInteger(value)) {
    throw new RangeError(`\`${what}\` must be an integer in [0, 2^64); given ${value}`);
  }
  const big = BigInt(value);
  if (big < 0n || big >= 1n << 64n) throw new RangeError(`\`${what}\` must be an integer in [0, 2^64); given ${value}`);
  return big;
}

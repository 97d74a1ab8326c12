/**
 * Sampling from softmax(processed scores) with a seeded, counter-based draw.
 */
import { EmptyDistributionError } from '../errors.js';
import { counterUniform } from './counter-random.js';
import { finiteMaximum, isCandidate } from './finite.js';

/**
 * The token whose cumulative probability (in vocabulary order, float64 sums of `exp(z - max)`) first exceeds
 * `uniform`. Non-finite scores have probability 0. Throws `EmptyDistributionError` when no score is finite.
 *
 * Hugging Face draws with `torch.multinomial` from PyTorch's global generator; its draws cannot be
 * reproduced outside PyTorch, so only the distribution matches, not the sampled ids.
 */
export function sampleFromScores(row: Float32Array, uniform: number, step: number): number {
  const max = finiteMaximum(row);
  if (max === -Infinity) throw new EmptyDistributionError(step, []);
  let total = 0;
  for (let i = 0; i < row.length; i++) {
    const score = row[i]!;
    if (isCandidate(score)) total += Math.exp(score - max);
  }
  const target = uniform * total;
  let cumulative = 0;
  let last = -1;
  for (let i = 0; i < row.length; i++) {
    const score = row[i]!;
    if (!isCandidate(score)) continue;
    const weight = Math.exp(score - max);
    if (weight === 0) continue;
    cumulative += weight;
    last = i;
    if (cumulative > target) return i;
  }
  // Re-summing can fall an ulp short of `total`: the draw then belongs to the last token with weight.
  return last;
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

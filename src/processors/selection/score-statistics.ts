/**
 * Log-probabilities, entropy and top alternatives of a row of scores, computed stably: around the finite
 * maximum, with float64 sums, so rows holding ±1e30 or -inf give exact answers instead of NaN. Non-finite
 * scores have probability 0 (see `finite.ts`). Works for raw logits and processed scores alike.
 */
import { finiteMaximum, isCandidate } from './finite.js';

/** What the other functions need to know about a row; computed once per row. */
export interface ScoreSummary {
  /** The largest finite score (-inf when none). */
  readonly max: number;
  /** log Σ exp(z - max) over finite scores. */
  readonly logSum: number;
  /** Σ exp(z - max) · (z - max) / Σ exp(z - max): the mean shifted score. */
  readonly meanShifted: number;
}

export function summarizeScores(row: Float32Array): ScoreSummary {
  const max = finiteMaximum(row);
  if (max === -Infinity) return { max, logSum: NaN, meanShifted: NaN };
  let sum = 0;
  let weighted = 0;
  for (let i = 0; i < row.length; i++) {
    const score = row[i]!;
    if (!isCandidate(score)) continue;
    const shifted = score - max;
    const weight = Math.exp(shifted);
    sum += weight;
    // An underflowed weight times a huge negative shift would be 0 · -1e30 = -0, harmless; skipping is clearer.
    if (weight > 0) weighted += weight * shifted;
  }
  return { max, logSum: Math.log(sum), meanShifted: weighted / sum };
}

/** log p(token) under softmax of the row; -inf for a non-finite score, NaN when the row has no finite score. */
export function logProbability(row: Float32Array, token: number, summary: ScoreSummary = summarizeScores(row)): number {
  if (summary.max === -Infinity) return NaN;
  const score = row[token]!;
  return isCandidate(score) ? score - summary.max - summary.logSum : -Infinity;
}

/** Entropy in nats, -Σ p log p = logSum - mean shifted score; NaN when the row has no finite score. */
export function entropy(summary: ScoreSummary): number {
  return summary.logSum - summary.meanShifted;
}

export interface Alternative {
  readonly tokenId: number;
  readonly logProbability: number;
}

/**
 * The `count` most likely tokens, best first (the lower id first among equal scores), found with a bounded
 * heap: O(V log count), allocating only `count`-sized arrays.
 */
export function topAlternatives(row: Float32Array, count: number, summary: ScoreSummary = summarizeScores(row)): Alternative[] {
  const capacity = Math.max(0, Math.min(count, row.length));
  const heapIds = new Int32Array(capacity);
  let size = 0;
  // Min-heap by "worse first": a lower score is worse; among equal scores the higher id is worse.
  const worse = (a: number, b: number): boolean => {
    const sa = row[a]!;
    const sb = row[b]!;
    return sa < sb || (sa === sb && a > b);
  };
  const siftDown = (from: number): void => {
    let at = from;
    for (;;) {
      const left = 2 * at + 1;
      const right = left + 1;
      let worst = at;
      if (left < size && worse(heapIds[left]!, heapIds[worst]!)) worst = left;
      if (right < size && worse(heapIds[right]!, heapIds[worst]!)) worst = right;
      if (worst === at) return;
      [heapIds[at], heapIds[worst]] = [heapIds[worst]!, heapIds[at]!];
      at = worst;
    }
  };
  for (let id = 0; id < row.length && capacity > 0; id++) {
    if (!isCandidate(row[id]!)) continue;
    if (size < capacity) {
      let at = size++;
      heapIds[at] = id;
      while (at > 0) {
        const parent = (at - 1) >> 1;
        if (!worse(heapIds[at]!, heapIds[parent]!)) break;
        [heapIds[at], heapIds[parent]] = [heapIds[parent]!, heapIds[at]!];
        at = parent;
      }
    } else if (worse(heapIds[0]!, id)) {
      heapIds[0] = id;
      siftDown(0);
    }
  }
  const ids = Array.from(heapIds.subarray(0, size)).sort((a, b) => (worse(a, b) ? 1 : worse(b, a) ? -1 : 0));
  return ids.map((tokenId) => ({ tokenId, logProbability: logProbability(row, tokenId, summary) }));
}

/**
 * Log-probabilities, entropy and top alternatives of a row of scores, computed stably: around the finite
 * maximum, with float64 sums, so rows holding ±1e30 or -inf give exact answers instead of NaN. Non-finite
 * scores have probability 0 (see `finite.ts`). Works for raw logits and processed scores alike.
 *
 * These figures are reported to clients at every step (twice: raw and processed), so the sums over the
 * vocabulary run in the WebAssembly SIMD kernel where there is one (`numeric/exp-sums-kernel.ts`: float32
 * exponentials within 1.7e-7 relative, accumulated in float64; its speed against `Math.exp` in a loop is
 * in bench/README.md). Selection and the processors never depend on them; they keep the float64 loop
 * (`softmax-basis.ts`).
 */
import { expSumsKernel } from '../../numeric/exp-sums-kernel.js';
import { exponentialSums, exponentialSumsResult } from '../math/softmax-basis.js';
import { finiteMaximum, isCandidate } from './finite.js';

const kernel = expSumsKernel();
/** The kernel's [sum, weighted, max] output, reused by every call (this module is synchronous). The kernel
 * also finds the row's finite maximum, exactly as `finiteMaximum` does. */
const kernelOut = new Float64Array(3);

/** What the other functions need to know about a row; computed once per row. */
export interface ScoreSummary {
  /** The largest finite score (-inf when none). */
  readonly max: number;
  /** log Σ exp(z - max) over finite scores. */
  readonly logSum: number;
  /** Σ exp(z - max) · (z - max) / Σ exp(z - max): the mean shifted score. */
  readonly meanShifted: number;
}

/** The summary of a row with no finite score. */
const EMPTY_SUMMARY: ScoreSummary = { max: -Infinity, logSum: NaN, meanShifted: NaN };

export function summarizeScores(row: Float32Array): ScoreSummary {
  if (kernel !== undefined) {
    // One copy of the row into the kernel's memory serves the maximum and both sums.
    const max = kernel.summarize(row, kernelOut);
    return max === -Infinity ? EMPTY_SUMMARY : kernelSummary(max);
  }
  const max = finiteMaximum(row);
  if (max === -Infinity) return EMPTY_SUMMARY;
  const sum = exponentialSums(row, max);
  return { max, logSum: Math.log(sum), meanShifted: exponentialSumsResult.weightedShift / sum };
}

/**
 * `summarizeScores`, and the first id holding the finite maximum (-1 when none): greedy selection's token,
 * from the same copy of the row into the kernel's memory.
 */
export function summarizeScoresWithArgmax(row: Float32Array): { summary: ScoreSummary; argmax: number } {
  if (kernel !== undefined) {
    const argmax = kernel.summarizeWithArgmax(row, kernelOut);
    return { summary: argmax < 0 ? EMPTY_SUMMARY : kernelSummary(kernelOut[2]!), argmax };
  }
  const summary = summarizeScores(row);
  // `indexOf`'s strict equality finds the first zero of either sign, as `argmaxOfFinite`'s strict `>` keeps it.
  return { summary, argmax: summary.max === -Infinity ? -1 : row.indexOf(summary.max) };
}

/** The summary from the kernel's sums in `kernelOut`, for a row whose finite maximum is `max`. */
function kernelSummary(max: number): ScoreSummary {
  return { max, logSum: Math.log(kernelOut[0]!), meanShifted: kernelOut[1]! / kernelOut[0]! };
}

/**
 * The summary of `raw` worked out from `processedSummary`, when `processed` differs from `raw` only at `ids`
 * and holds there either the raw score or -inf (a processor that only removes listed tokens, such as
 * `min_new_tokens` removing EOS): the removed tokens' terms are added back to the processed sums, with no
 * pass over the vocabulary. Undefined when a listed id holds any other value, or when the processed row
 * has no finite score; then the raw row needs its own `summarizeScores`.
 */
export function summaryWithRestored(
  processedSummary: ScoreSummary,
  raw: Float32Array,
  processed: Float32Array,
  ids: readonly number[],
): ScoreSummary | undefined {
  const processedMax = processedSummary.max;
  if (processedMax === -Infinity) return undefined;
  let max = processedMax;
  for (const id of ids) {
    const score = raw[id]!;
    if (score === processed[id] || !isCandidate(score)) continue;
    if (processed[id] !== -Infinity) return undefined;
    if (score > max) max = score;
  }
  // Σ e^(z − max) and Σ e^(z − max)·(z − max) over the processed row, moved from its maximum to `max`.
  const processedSum = Math.exp(processedSummary.logSum);
  const scale = Math.exp(processedMax - max);
  let sum = processedSum * scale;
  let weighted = scale * processedSum * (processedSummary.meanShifted + (processedMax - max));
  for (const id of ids) {
    const score = raw[id]!;
    if (score === processed[id] || !isCandidate(score)) continue;
    const shifted = score - max;
    const term = Math.exp(shifted);
    sum += term;
    weighted += term * shifted;
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
 * heap in one pass — O(V) comparisons plus O(log count) per entry — allocating only `count`-sized arrays.
 */
export function topAlternatives(row: Float32Array, count: number, summary: ScoreSummary = summarizeScores(row)): Alternative[] {
  const capacity = Math.max(0, Math.min(count, row.length));
  if (capacity === 0) return [];
  // A min-heap of the best ids so far, worst at the root. Ids are scanned in increasing order, so a later id
  // tied with the root never displaces it: only a strictly higher score enters once the heap is full.
  const heapIds = new Int32Array(capacity);
  let size = 0;
  let floor = -Infinity;
  const worse = (a: number, b: number): boolean => row[a]! < row[b]! || (row[a] === row[b] && a > b);
  for (let id = 0; id < row.length; id++) {
    const score = row[id]!;
    if (!isCandidate(score) || (size === capacity && !(score > floor))) continue;
    let at: number;
    if (size < capacity) {
      at = size++;
      while (at > 0) {
        const parent = (at - 1) >> 1;
        if (!worse(id, heapIds[parent]!)) break;
        heapIds[at] = heapIds[parent]!;
        at = parent;
      }
    } else {
      at = 0;
      for (;;) {
        const left = 2 * at + 1;
        if (left >= size) break;
        const right = left + 1;
        const child = right < size && worse(heapIds[right]!, heapIds[left]!) ? right : left;
        if (!worse(heapIds[child]!, id)) break;
        heapIds[at] = heapIds[child]!;
        at = child;
      }
    }
    heapIds[at] = id;
    if (size === capacity) floor = row[heapIds[0]!]!;
  }
  const ids = Array.from(heapIds.subarray(0, size)).sort((a, b) => (worse(a, b) ? 1 : worse(b, a) ? -1 : 0));
  return ids.map((tokenId) => ({ tokenId, logProbability: logProbability(row, tokenId, summary) }));
}

/**
 * The k-th largest score of a row (ties counted: k = 1 is the maximum), NaN never counted. Small k — the
 * common case: top_k = 50, min_tokens_to_keep — uses a k-sized min-heap: one pass where almost every score
 * is rejected by a single comparison with the heap's smallest. Larger k falls back to radix selection. Both
 * are O(V) and allocate nothing.
 */
import { sharedRadixSelect } from './radix-select.js';

/** Largest k served by the heap; its scratch is this many floats, shared (apply calls are synchronous). */
const HEAP_LIMIT = 1024;
const heap = new Float32Array(HEAP_LIMIT);

export function kthLargest(row: Float32Array, k: number): number {
  const wanted = Math.min(Math.max(1, k), row.length);
  if (wanted > HEAP_LIMIT) return sharedRadixSelect.kthLargest(row, wanted);
  const size = fillHeap(row, wanted);
  // Fewer than k comparable scores: nothing is below "the k-th", which NaN expresses (every comparison is false).
  return size < wanted ? NaN : heap[0]!;
}

/** Leaves the `wanted` largest scores in `heap` (smallest at the root); returns how many it holds. */
function fillHeap(row: Float32Array, wanted: number): number {
  let size = 0;
  for (let i = 0; i < row.length; i++) {
    const value = row[i]!;
    if (value !== value) continue;
    if (size < wanted) {
      // Sift up.
      let at = size++;
      while (at > 0) {
        const parent = (at - 1) >> 1;
        if (heap[parent]! <= value) break;
        heap[at] = heap[parent]!;
        at = parent;
      }
      heap[at] = value;
    } else if (value > heap[0]!) {
      // Replace the smallest of the k largest and sift down.
      let at = 0;
      for (;;) {
        const left = 2 * at + 1;
        if (left >= wanted) break;
        const right = left + 1;
        const child = right < wanted && heap[right]! < heap[left]! ? right : left;
        if (heap[child]! >= value) break;
        heap[at] = heap[child]!;
        at = child;
      }
      heap[at] = value;
    }
  }
  return size;
}

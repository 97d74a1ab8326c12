/**
 * Small helpers over sets of token ids, sized by the ids involved (never by the vocabulary).
 */

/** The distinct ids, ascending. */
export function distinctSorted(ids: readonly number[]): Int32Array {
  return Int32Array.from(new Set(ids)).sort();
}

/**
 * The distinct tokens of a growing history, reusing one scratch array across steps: the copy is sorted in
 * place and duplicates are skipped by the caller's loop (`forEachDistinct`). No per-step allocation once the
 * scratch has grown to the history's length.
 */
export class DistinctTokens {
  private scratch = new Int32Array(64);

  /** Calls `visit` once for each distinct id of `ids`. */
  forEachDistinct(ids: readonly number[], visit: (id: number) => void): void {
    if (ids.length > this.scratch.length) this.scratch = new Int32Array(Math.max(ids.length, this.scratch.length * 2));
    const count = ids.length;
    const scratch = this.scratch;
    for (let i = 0; i < count; i++) scratch[i] = ids[i]!;
    const view = scratch.subarray(0, count).sort();
    for (let i = 0; i < count; i++) {
      const id = view[i]!;
      if (i === 0 || id !== view[i - 1]) visit(id);
    }
  }
}

/** Sets the listed ids to -inf (ids were validated to be inside the row). */
export function removeTokens(row: Float32Array, ids: Int32Array): void {
  for (let i = 0; i < ids.length; i++) row[ids[i]!] = -Infinity;
}

/** Leaves only `id` with score 0 and every other entry at -inf (Hugging Face's forced-token rows). */
export function forceToken(row: Float32Array, id: number): void {
  row.fill(-Infinity);
  row[id] = 0;
}

/**
 * The cut of Hugging Face's top-p: the smallest score τ such that the probability of the scores `<= τ`
 * exceeds `fraction` (= float32(1 - top_p)), summed from the bottom like its ascending cumsum. Keeping
 * `z >= τ` then keeps the top-p set, ties at the cut included.
 *
 * One exp pass fills the distance histogram (`exp-histogram.ts`); walking it from the bottom finds the bin
 * where the mass crosses the target; a second pass collects that bin's few scores, which are sorted and
 * walked exactly. A crossing bin holding more scores than the scratch (many ties, or a cut deep in the tail)
 * falls back to radix selection, which is exact for any row.
 */
import { BINS, binOf, sharedExpHistogram } from './exp-histogram.js';
import { sharedRadixSelect } from './radix-select.js';

const MEMBER_LIMIT = 4096;
const members = new Float32Array(MEMBER_LIMIT);

/** See the module comment; `max` is the row's finite maximum. Returns +inf when `fraction >= 1`. */
export function topPCut(row: Float32Array, max: number, fraction: number): number {
  const histogram = sharedExpHistogram;
  histogram.fill(row, max);
  const { counts, masses } = histogram;
  const target = fraction * histogram.total;
  let below = 0;
  let crossing = -1;
  for (let bin = BINS - 1; bin >= 0; bin--) {
    if (counts[bin] === 0) continue;
    if (below + masses[bin]! > target) {
      crossing = bin;
      break;
    }
    below += masses[bin]!;
  }
  if (crossing < 0) return Infinity;
  if (counts[crossing]! > MEMBER_LIMIT) return sharedRadixSelect.ascendingMassCut(row, max, fraction);

  let count = 0;
  for (let i = 0; i < row.length; i++) {
    const value = row[i]!;
    if (value > -Infinity && binOf(max - value) === crossing) members[count++] = value;
  }
  const sorted = members.subarray(0, count).sort();
  for (let i = 0; i < count; ) {
    const value = sorted[i]!;
    let end = i;
    while (end < count && sorted[end] === value) end++;
    below += (end - i) * Math.exp(value - max);
    if (below > target) return value;
    i = end;
  }
  // Re-summed in another order the bin can fall an ulp short of its histogram mass: its top score is the cut.
  return sorted[count - 1]!;
}

/**
 * The first step of a beam search step: the `count` best continuations over all live beams, scored by the
 * beam's score plus the token's processed log-probability. Hugging Face takes them with `torch.topk` over the
 * flattened `num_beams × vocab_size` scores; here ties go to the lower flat index (the lower beam, then the
 * lower token id), which `torch.topk` leaves unspecified. NaN counts as -inf.
 */

/** One continuation: `token` after live beam `source`, with the sum of log-probabilities it would have. */
export interface Candidate {
  readonly source: number;
  readonly token: number;
  readonly logprobSum: number;
}

/**
 * The `count` highest `scores[b] + rows[b][t]`, highest first. Every row must be as wide; `count` must not
 * exceed their cells together.
 */
export function topCandidates(rows: readonly Float32Array[], scores: readonly number[], count: number): Candidate[] {
  const values = new Float64Array(count).fill(-Infinity);
  const flat = new Int32Array(count).fill(-1);
  let filled = 0;
  const width = rows[0]!.length;
  rows.forEach((row, beam) => {
    const base = scores[beam]!;
    for (let token = 0; token < row.length; token++) {
      const raw = base + row[token]!;
      const value = raw !== raw ? -Infinity : raw;
      // Strictly higher than the worst kept (equal keeps the earlier index); any value while not full.
      if (filled === count && !(value > values[count - 1]!)) continue;
      let at = filled === count ? count - 1 : filled++;
      while (at > 0 && value > values[at - 1]!) {
        values[at] = values[at - 1]!;
        flat[at] = flat[at - 1]!;
        at--;
      }
      values[at] = value;
      flat[at] = beam * width + token;
    }
  });
  const candidates: Candidate[] = [];
  for (let i = 0; i < filled; i++) {
    candidates.push({ source: Math.floor(flat[i]! / width), token: flat[i]! % width, logprobSum: values[i]! });
  }
  return candidates;
}

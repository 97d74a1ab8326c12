/**
 * Shared pieces of the tests that hold the ONNX files, the runtime and transformers.js to the T5
 * reference: the tolerance, the comparison, and the input id sequences.
 */

/**
 * Largest absolute difference allowed between a float32 logit and the float64 reference
 * (design.md, "Figures we hold ourselves to").
 */
export const MAX_ABS_ERROR = 1e-4;

/** Largest |actual[i] − expected[i]|; throws when the lengths differ (a width bug is not a tolerance issue). */
export function maxAbsDifference(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) {
    throw new Error(`compared rows differ in length: ${actual.length} vs ${expected.length} expected`);
  }
  let max = 0;
  for (let i = 0; i < actual.length; i++) {
    const difference = Math.abs(actual[i]! - expected[i]!);
    // NaN never compares greater, so test for it explicitly.
    if (Number.isNaN(difference)) return Number.POSITIVE_INFINITY;
    if (difference > max) max = difference;
  }
  return max;
}

/** Keeps the largest error seen per label, for the summary the agreement tests print. */
export class ErrorLedger {
  private readonly worst = new Map<string, number>();

  record(label: string, error: number): void {
    this.worst.set(label, Math.max(error, this.worst.get(label) ?? 0));
  }

  summary(): string {
    return [...this.worst].map(([label, error]) => `${label}: max abs error ${error.toExponential(2)}`).join('\n');
  }
}

/**
 * A deterministic encoder input of `length` ids ending with EOS, drawn from the ordinary tokens
 * `[firstId, tokenCount)` (below `firstId` sit pad, EOS and unk). `seed` varies the sequence.
 */
export function inputIds(length: number, seed: number, tokenCount: number, eosId: number, firstId = 3): number[] {
  const span = tokenCount - firstId;
  const ids: number[] = [];
  let state = seed * 2654435761 + 12345;
  for (let i = 0; i < length - 1; i++) {
    // A small LCG: varied ids without dragging in the builder's generator.
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    ids.push(firstId + (state % span));
  }
  ids.push(eosId);
  return ids;
}

/** The part of a token sequence up to and including its first `eosId` (all of it when there is none). */
export function throughFirstEos(tokens: readonly number[], eosId: number): number[] {
  const end = tokens.indexOf(eosId);
  return end === -1 ? [...tokens] : tokens.slice(0, end + 1);
}

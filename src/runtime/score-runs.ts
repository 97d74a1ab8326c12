/**
 * What every `ModelRuntime.score` implementation shares: the checks of its targets (so the in-process
 * model, the worker model and the scheduler refuse the same calls with the same messages) and the bound on
 * one scoring run of the decoder.
 *
 * A run of B targets whose longest decoder sequence is T tokens returns `[B, T, V]` logits: for t5-small
 * (V = 32,128) 128 KiB per row, so 16 targets of 32 tokens are 64 MiB. Runs are bounded by the logits
 * they return (`SCORE_RUN_LOGITS_BYTES`), and targets beyond it go to the next run.
 */
import { InvalidInputError } from './errors.js';
import { checkTokenIds } from './id-validation.js';
import type { EncodedInput, ScoreTarget } from './types.js';

/** Most bytes of logits one scoring run returns (a target longer than that runs alone). */
export const SCORE_RUN_LOGITS_BYTES = 64 * 1024 * 1024;

/** Most padded decoder positions (batch × longest sequence) in one scoring run of a model `vocabSize` wide. */
export function scoreRunRows(vocabSize: number): number {
  return Math.max(1, Math.floor(SCORE_RUN_LOGITS_BYTES / (4 * vocabSize)));
}

/** Decoder positions a target's run feeds: the start token, the prefix, and every target token but the last. */
export function scoreSequenceLength(target: ScoreTarget): number {
  return 1 + (target.prefix?.length ?? 0) + target.tokens.length - 1;
}

/**
 * Splits `items` into consecutive runs of at most `rows` padded positions (run size × its longest
 * sequence); an item longer than `rows` forms a run of its own.
 */
export function splitScoreRuns<T>(items: readonly T[], lengthOf: (item: T) => number, rows: number): T[][] {
  const runs: T[][] = [];
  let run: T[] = [];
  let longest = 0;
  for (const item of items) {
    const length = lengthOf(item);
    const widened = Math.max(longest, length);
    if (run.length > 0 && (run.length + 1) * widened > rows) {
      runs.push(run);
      run = [];
      longest = 0;
    }
    run.push(item);
    longest = Math.max(longest, length);
  }
  if (run.length > 0) runs.push(run);
  return runs;
}

/**
 * Throws unless `targets` is an array of targets whose encoder outputs pass `isOwn` and whose prefix and
 * tokens are ids in `[0, vocabSize)`, with at least one token each. Messages name `targets[i]`.
 */
export function checkScoreTargets<E extends EncodedInput>(
  targets: readonly ScoreTarget[],
  isOwn: (encoded: EncodedInput) => encoded is E,
  vocabSize: number,
): Array<ScoreTarget & { readonly encoded: E }> {
  if (!Array.isArray(targets)) throw new InvalidInputError(`\`targets\` must be an array of score targets; given ${typeof targets}`);
  return targets.map((target, index) => {
    const field = `targets[${index}]`;
    if (typeof target !== 'object' || target === null) throw new InvalidInputError(`${field} must be a score target; given ${String(target)}`);
    if (!isOwn(target.encoded)) throw new InvalidInputError(`${field}.encoded must come from this model's encode()`);
    if (target.prefix !== undefined) checkTokenIds(target.prefix, vocabSize, `${field}.prefix`);
    checkTokenIds(target.tokens, vocabSize, `${field}.tokens`);
    if (target.tokens.length === 0) throw new InvalidInputError(`${field}.tokens must hold at least one token; given none`);
    return target as ScoreTarget & { readonly encoded: E };
  });
}

/**
 * A scored target's wire form (`TargetScore`) from its logits rows: for each token its raw log-probability,
 * rank, text, and what the request asked for (alternatives, entropy, the raw row), with the statistics of
 * the processors' score-statistics (the same functions a `Decode` step reports with, on the raw row), and
 * each token's text as a `Decode` that forces the target streams it.
 *
 * A long target's statistics take a while (a pass over the vocabulary per token, and a tokenizer decode
 * per alternative), so the work yields to the event loop between slices of tokens: other calls' I/O and
 * the streams' steps go on meanwhile.
 */
import { performance } from 'node:perf_hooks';
import type { Alternative as WireAlternative, TargetScore, TokenScore } from '../gen/stepwise/v1/stepwise.js';
import { entropy, logProbability, summarizeScores, topAlternatives, type ScoreSummary } from '../processors/index.js';
import type { TextTokenizer } from '../runtime/types.js';
import { IncrementalDetokenizer } from './incremental-detokenizer.js';
import { float16Tensor, float32Tensor, topLogits } from './logits-encoding.js';
import type { ScoreReport } from './score-request.js';
import { decodeText } from './text-decoding.js';

/** How long the statistics run before they yield to the event loop. */
const SLICE_MS = 4;

/** What building a target's scores needs from its caller. */
export interface TargetScoring {
  readonly tokenizer: TextTokenizer;
  readonly vocabSize: number;
  readonly report: ScoreReport;
  /** Resolves in a later turn of the event loop (`EventLoopTurns.next`). */
  readonly yieldTurn: () => Promise<void>;
  /** Raised when the call ended: the work stops at the next slice. */
  readonly signal: AbortSignal;
}

/** The `TargetScore` of `tokens`, whose row i is `rows[i * vocabSize, (i + 1) * vocabSize)`. */
export async function targetScore(tokens: readonly number[], rows: Float32Array, scoring: TargetScoring): Promise<TargetScore> {
  const detokenizer = new IncrementalDetokenizer(scoring.tokenizer);
  const scored: TokenScore[] = [];
  let sliceStart = performance.now();
  for (const [i, tokenId] of tokens.entries()) {
    if (performance.now() - sliceStart > SLICE_MS) {
      await scoring.yieldTurn();
      scoring.signal.throwIfAborted();
      sliceStart = performance.now();
    }
    const row = rows.subarray(i * scoring.vocabSize, (i + 1) * scoring.vocabSize);
    scored.push(tokenScore(row, tokenId, detokenizer, scoring.report));
  }
  // The logprobs as the wire carries them (float32), so that a client summing them gets this sum.
  const sum = scored.reduce((total, token) => total + Math.fround(token.logprob), 0);
  return { tokens: scored, logprobSum: sum, logprobMean: sum / scored.length, text: decodeText(scoring.tokenizer, tokens, true) };
}

function tokenScore(row: Float32Array, tokenId: number, detokenizer: IncrementalDetokenizer, report: ScoreReport): TokenScore {
  const summary = summarizeScores(row);
  return {
    tokenId,
    logprob: logProbability(row, tokenId, summary),
    text: detokenizer.push(tokenId),
    rank: rankOf(row, tokenId),
    alternatives: alternatives(row, summary, report.topNAlternatives, detokenizer),
    entropy: report.entropy ? entropy(summary) : undefined,
    ...rawRow(row, report),
  };
}

/** 1 + the number of ids whose logit is strictly higher than `tokenId`'s. */
export function rankOf(row: Float32Array, tokenId: number): number {
  const score = row[tokenId]!;
  let higher = 0;
  for (let id = 0; id < row.length; id++) if (row[id]! > score) higher++;
  return 1 + higher;
}

/** The most likely tokens, each with the text it would have added in place of the token just pushed. */
function alternatives(row: Float32Array, summary: ScoreSummary, count: number, detokenizer: IncrementalDetokenizer): WireAlternative[] {
  if (count === 0) return [];
  return topAlternatives(row, count, summary).map(({ tokenId, logProbability: logprob }) => ({
    tokenId,
    text: detokenizer.peekInsteadOfLast(tokenId),
    logprob,
    rawLogprob: logprob,
  }));
}

/** The row in the asked format. Float32 views the row itself (which the call owns until it answers). */
function rawRow(row: Float32Array, report: ScoreReport): Pick<TokenScore, 'raw' | 'top'> {
  switch (report.rawLogits.kind) {
    case 'float32':
      return { raw: float32Tensor(row), top: undefined };
    case 'float16':
      return { raw: float16Tensor(row, new Uint16Array(row.length)), top: undefined };
    case 'top-k':
      return { raw: undefined, top: topLogits(row, report.rawLogits.k) };
    case 'none':
      return { raw: undefined, top: undefined };
  }
}

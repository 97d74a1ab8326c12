/**
 * What the `decode` command reports for one step, computed from the step's raw logits (the model's own
 * distribution, before any processor) and the token the server took.
 */
import { entropyOf, logSumExp, probabilityOf, topKIds } from '../logits.js';
import { TokenSource, type TokenChosen } from '../proto.js';

/** A likely token at a step under the raw distribution. */
export interface Candidate {
  readonly tokenId: number;
  readonly text: string;
  /** softmax(raw logits)[tokenId]. */
  readonly probability: number;
}

/** One row of the step table and one line of the JSONL output. */
export interface StepReport {
  readonly step: number;
  readonly tokenId: number;
  /** The text the token added to the output. */
  readonly text: string;
  readonly forced: boolean;
  /** softmax(raw logits)[tokenId]. */
  readonly probability: number;
  /** Entropy of softmax(raw logits), in nats. */
  readonly entropy: number;
  /** Log-probability under the processed distribution, as the server reported it. */
  readonly logprob: number;
  /** The most likely tokens under the raw distribution, most likely first. */
  readonly alternatives: readonly Candidate[];
}

/** Ids of the `count` most likely raw tokens of `row`. */
export function likelyTokenIds(row: Float32Array, count: number): number[] {
  return count > 0 ? topKIds(row, count) : [];
}

/** The report of a step, given its raw row, its token and the texts of the row's likely tokens. */
export function reportStep(row: Float32Array, token: TokenChosen, likely: readonly number[], textOf: (id: number) => string): StepReport {
  const rowLogSumExp = logSumExp(row);
  return {
    step: token.step,
    tokenId: token.tokenId,
    text: token.text,
    forced: token.source === TokenSource.TOKEN_SOURCE_FORCED,
    probability: probabilityOf(row, token.tokenId, rowLogSumExp),
    entropy: entropyOf(row, rowLogSumExp),
    logprob: token.logprob,
    alternatives: likely.map((tokenId) => ({ tokenId, text: textOf(tokenId), probability: probabilityOf(row, tokenId, rowLogSumExp) })),
  };
}

/** The JSONL line of a step (snake_case keys, as in the protocol). */
export function toJsonLine(report: StepReport): string {
  return JSON.stringify({
    step: report.step,
    token_id: report.tokenId,
    text: report.text,
    forced: report.forced,
    probability: report.probability,
    entropy: report.entropy,
    logprob: Number.isFinite(report.logprob) ? report.logprob : String(report.logprob),
    alternatives: report.alternatives.map((candidate) => ({
      token_id: candidate.tokenId,
      text: candidate.text,
      probability: candidate.probability,
    })),
  });
}

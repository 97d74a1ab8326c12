/**
 * What the `score` command prints: per target, one row per token, then the target's sum and mean,
 *
 * ```
 * target 1: "Das Haus ist wunderbar." (9 tokens)
 *    #  token                 id     logprob   rank  top-3 (logprob)
 *    0  "D"                  163    -6.4321     45  "N" -4.2187  "#" -4.2643  "never" -4.3120
 *    ...
 *   sum -51.2345  mean -5.6927
 * ```
 * or, with `--json`, the whole answer as one JSON object with the protocol's snake_case names. Every number
 * is the server's: raw log-probabilities (natural log), ranks among the raw logits, entropies in nats.
 */
import type { ScoreResult, ScoredTarget, ScoredToken } from '../score.js';

const TOKEN_WIDTH = 18;

/** A token's text, quoted and escaped so that spaces and control characters show, shortened to fit. */
function quoted(text: string, width = TOKEN_WIDTH): string {
  const json = JSON.stringify(text);
  return json.length <= width ? json : `${json.slice(0, width - 2)}…"`;
}

/** What the table shows besides each token's id, text, logprob and rank. */
export interface ScoreTableColumns {
  /** Alternatives listed per token. */
  readonly top: number;
  /** Whether an entropy column is shown. */
  readonly entropy: boolean;
}

function header(columns: ScoreTableColumns): string {
  const entropy = columns.entropy ? `  ${'entropy'.padStart(7)}` : '';
  const top = columns.top > 0 ? `  top-${columns.top} (logprob)` : '';
  return `${'#'.padStart(4)}  ${'token'.padEnd(TOKEN_WIDTH)}  ${'id'.padStart(6)}  ${'logprob'.padStart(9)}  ${'rank'.padStart(5)}${entropy}${top}`;
}

function row(index: number, token: ScoredToken, columns: ScoreTableColumns): string {
  const entropy = columns.entropy ? `  ${(token.entropy === undefined ? '-' : token.entropy.toFixed(3)).padStart(7)}` : '';
  const alternatives = token.alternatives.map((alternative) => `${quoted(alternative.text, 12)} ${alternative.logprob.toFixed(4)}`).join('  ');
  return (
    `${String(index).padStart(4)}  ${quoted(token.text).padEnd(TOKEN_WIDTH)}  ${String(token.tokenId).padStart(6)}  ` +
    `${token.logprob.toFixed(4).padStart(9)}  ${String(token.rank).padStart(5)}${entropy}${alternatives.length > 0 ? `  ${alternatives}` : ''}`
  );
}

/** The printed table of every target, in order; `labels` are the targets as given on the command line. */
export function formatScoreTables(result: ScoreResult, labels: readonly string[], columns: ScoreTableColumns): string {
  return result.results
    .map((target, index) => {
      const count = `${target.tokens.length} token${target.tokens.length === 1 ? '' : 's'}`;
      return [
        `target ${index + 1}: ${JSON.stringify(labels[index] ?? target.text)} (${count})`,
        header(columns),
        ...target.tokens.map((token, position) => row(position, token, columns)),
        `  sum ${target.logprobSum.toFixed(4)}  mean ${target.logprobMean.toFixed(4)}`,
      ].join('\n');
    })
    .join('\n\n');
}

/** A float for JSON: non-finite values (a -Infinity log-probability) as their names. */
function jsonNumber(value: number): number | string {
  return Number.isFinite(value) ? value : String(value);
}

function targetJson(target: ScoredTarget, label: string | undefined): object {
  return {
    target: label,
    text: target.text,
    token_ids: target.tokenIds,
    logprob_sum: jsonNumber(target.logprobSum),
    logprob_mean: jsonNumber(target.logprobMean),
    tokens: target.tokens.map((token) => ({
      token_id: token.tokenId,
      text: token.text,
      logprob: jsonNumber(token.logprob),
      rank: token.rank,
      ...(token.entropy === undefined ? {} : { entropy: jsonNumber(token.entropy) }),
      alternatives: token.alternatives.map((alternative) => ({ token_id: alternative.tokenId, text: alternative.text, logprob: jsonNumber(alternative.logprob) })),
    })),
  };
}

/** The `--json` output: one object, snake_case keys as in the protocol. */
export function scoreJson(result: ScoreResult, labels: readonly string[]): string {
  return JSON.stringify({
    input_ids: result.inputIds,
    decoder_prompt_ids: result.decoderPromptIds,
    results: result.results.map((target, index) => targetJson(target, labels[index])),
  });
}

/**
 * The live table the `decode` command prints, one row per step as the step completes:
 *
 * ```
 * step    token              id     prob  entropy  top-3 (raw)
 *    0    "▁Das"            644   0.9123    0.412  "▁Das" 0.9123  "▁Der" 0.0312  "▁Die" 0.0101
 *    1 *  "▁Haus"           ...
 * * forced
 * ```
 * Probabilities and entropies are those of softmax(raw logits); entropy is in nats.
 */
import type { StepReport } from './step-report.js';

const TOKEN_WIDTH = 16;
const FORCED_MARK = '*';

/** A token's text, quoted and escaped so that spaces and control characters show, shortened to fit. */
function quoted(text: string, width = TOKEN_WIDTH): string {
  const json = JSON.stringify(text);
  return json.length <= width ? json : `${json.slice(0, width - 2)}…"`;
}

/** The header line for a table listing `showTop` alternatives per step. */
export function formatStepTableHeader(showTop: number): string {
  const top = showTop > 0 ? `  top-${showTop} (raw)` : '';
  return `${'step'.padStart(4)}    ${'token'.padEnd(TOKEN_WIDTH)}  ${'id'.padStart(6)}  ${'prob'.padStart(7)}  ${'entropy'.padStart(7)}${top}`;
}

/** One row; forced tokens carry the mark after the step number. */
export function formatStepRow(report: StepReport): string {
  const mark = report.forced ? FORCED_MARK : ' ';
  const alternatives = report.alternatives
    .map((candidate) => `${quoted(candidate.text, 12)} ${candidate.probability.toFixed(4)}`)
    .join('  ');
  return (
    `${String(report.step).padStart(4)} ${mark}  ${quoted(report.text).padEnd(TOKEN_WIDTH)}  ` +
    `${String(report.tokenId).padStart(6)}  ${report.probability.toFixed(4).padStart(7)}  ` +
    `${report.entropy.toFixed(3).padStart(7)}${alternatives.length > 0 ? `  ${alternatives}` : ''}`
  );
}

/** The legend printed under a table in which at least one token was forced. */
export const FORCED_LEGEND = `${FORCED_MARK} forced by the client`;

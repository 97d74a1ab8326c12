/**
 * The `stepwise decode` command: a lockstep decode that prints a live table of every step (from the raw
 * logits), forces the tokens asked for, and optionally saves every step as JSONL and the raw logits as
 * a `[steps, vocab]` float32 `.npy` matrix.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { NpyMatrixWriter } from '../npy-writer.js';
import type { ClientTls } from '../channel-security.js';
import { FinishReason, type Finished } from '../proto.js';
import type { DecodeStart } from '../start-options.js';
import { StepwiseClient } from '../stepwise-client.js';
import { likelyTokenIds, reportStep, toJsonLine } from './step-report.js';
import { FORCED_LEGEND, formatStepRow, formatStepTableHeader } from './step-table.js';
import { TokenTexts } from './token-texts.js';

export interface DecodeCommandOptions {
  /** `HOST:PORT` of the server. */
  readonly server: string;
  /** TLS files; unset: plaintext. */
  readonly tls?: ClientTls;
  /** Bearer token; unset: `$STEPWISE_TOKEN`, if any. */
  readonly token?: string;
  readonly text: string;
  readonly maxNewTokens?: number;
  /** Any of these three turns sampling on (greedy otherwise). */
  readonly topP?: number;
  readonly temperature?: number;
  readonly seed?: bigint;
  /** Alternatives listed per step. */
  readonly showTop: number;
  /** Token forced at each listed step. */
  readonly forcedTokens: ReadonlyMap<number, number>;
  /** Write one JSON object per step here. */
  readonly jsonlPath?: string;
  /** Write the raw logits matrix here. */
  readonly npyPath?: string;
  /** Which of the server's models decodes; undefined: its default. */
  readonly model?: string;
}

/** The start message of the command's decode. */
export function decodeStartOf(options: DecodeCommandOptions): DecodeStart {
  const sampling = options.topP !== undefined || options.temperature !== undefined || options.seed !== undefined;
  return {
    text: options.text,
    maxNewTokens: options.maxNewTokens,
    generationConfig: sampling ? { doSample: true, topP: options.topP, temperature: options.temperature } : undefined,
    selection: sampling ? { sample: { seed: options.seed } } : 'greedy',
    stream: { rawLogits: 'float32' },
    mode: 'lockstep',
    model: options.model,
  };
}

/** Runs the decode, printing to `out` and `err`; resolves with how it finished. */
export async function runDecodeCommand(
  options: DecodeCommandOptions,
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
  signal?: AbortSignal,
): Promise<Finished> {
  const client = new StepwiseClient(options.server, { tls: options.tls, token: options.token });
  const texts = new TokenTexts(client, options.model);
  let npy: NpyMatrixWriter | undefined;
  let jsonl: FileHandle | undefined;
  let anyForced = false;
  try {
    if (options.jsonlPath !== undefined) jsonl = await open(options.jsonlPath, 'w');
    const session = client.openDecode(decodeStartOf(options), { signal });
    const rows = new Map<number, Float32Array>();
    for await (const event of session) {
      switch (event.kind) {
        case 'started':
          if (options.npyPath !== undefined) npy = await NpyMatrixWriter.create(options.npyPath, event.started.vocabSize);
          out.write(`${formatStepTableHeader(options.showTop)}\n`);
          break;
        case 'step': {
          const row = event.logits!;
          rows.set(event.step, row);
          await npy?.appendRow(row);
          if (event.awaitsDecision) {
            const forced = options.forcedTokens.get(event.step);
            if (forced === undefined) session.accept(event.step);
            else session.force(event.step, forced);
          }
          break;
        }
        case 'token': {
          const row = rows.get(event.token.step)!;
          rows.delete(event.token.step);
          const likely = likelyTokenIds(row, options.showTop);
          await texts.load(likely, signal);
          const report = reportStep(row, event.token, likely, (id) => texts.textOf(id));
          anyForced ||= report.forced;
          out.write(`${formatStepRow(report)}\n`);
          await jsonl?.write(`${toJsonLine(report)}\n`);
          break;
        }
        case 'finished': {
          const { finished } = event;
          if (anyForced) out.write(`${FORCED_LEGEND}\n`);
          out.write(`\n${finished.text}\n`);
          const reason = (FinishReason[finished.reason] ?? String(finished.reason)).replace('FINISH_REASON_', '');
          out.write(`(${reason} after ${finished.tokenIds.length} tokens)\n`);
          for (const [step, tokenId] of options.forcedTokens) {
            if (step >= finished.tokenIds.length) {
              err.write(`--force ${tokenId}@${step} was not applied: the decode finished after ${finished.tokenIds.length} steps\n`);
            }
          }
          return finished;
        }
        case 'applied':
          break;
      }
    }
    throw new Error('the decode ended without a Finished message');
  } finally {
    await npy?.close();
    await jsonl?.close();
    client.close();
  }
}

/**
 * `stepwise-client score INPUT TARGET...` as a user runs it (a child process) against a live server: the
 * tables and the `--json` object carry what `Score` answers the library, `--top` lists that many
 * alternatives, `--ids` scores ids as given, and a refusal is one line on stderr with exit code 1.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StepwiseClient, type ScoreResult } from '../../../clients/ts/index.js';
import { tinyModels } from '../../fixtures/models.js';
import { startTestServer, type TestServer } from '../../support/test-server.js';

const run = promisify(execFile);
const INPUT = 'translate English to German: The house is wonderful.';
const TARGETS = ['Das Haus ist wunderbar.', 'Haus'];

let server: TestServer;
/** What the library answers for the same request, with two alternatives and entropies. */
let reference: ScoreResult;

/** Runs `stepwise-client score ... --server ADDRESS`; resolves with its output and exit code. */
async function scoreCommand(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'clients/ts/cli/main.ts', 'score', ...args, '--server', server.address], { timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

interface TableRow {
  position: number;
  tokenId: number;
  logprob: number;
  rank: number;
  alternatives: number[];
}

/** The tables of the printed output, one per target: header line, rows, sum and mean. */
function tables(stdout: string): Array<{ label: string; count: number; rows: TableRow[]; sum: number; mean: number }> {
  return stdout
    .trim()
    .split('\n\n')
    .map((block) => {
      const lines = block.split('\n');
      const title = /^target \d+: (".*") \((\d+) tokens?\)$/.exec(lines[0]!)!;
      const rows = lines.slice(2, -1).map((line) => {
        const match = /^ *(\d+)  (".*?")\s+(\d+)\s+(-?\d+\.\d{4})\s+(\d+)(.*)$/.exec(line)!;
        return {
          position: Number(match[1]),
          tokenId: Number(match[3]),
          logprob: Number(match[4]),
          rank: Number(match[5]),
          alternatives: [...match[6]!.matchAll(/ (-?\d+\.\d{4})(?= |$)/g)].map((value) => Number(value[1])),
        };
      });
      const totals = /^ {2}sum (-?\d+\.\d{4}) {2}mean (-?\d+\.\d{4})$/.exec(lines.at(-1)!)!;
      return { label: JSON.parse(title[1]!) as string, count: Number(title[2]), rows, sum: Number(totals[1]), mean: Number(totals[2]) };
    });
}

beforeAll(async () => {
  server = await startTestServer({ modelDir: tinyModels.reluTied });
  const client = new StepwiseClient(server.address);
  reference = await client.score({ text: INPUT, targets: TARGETS, topNAlternatives: 2, entropy: true });
  client.close();
});
afterAll(async () => {
  await server?.stop();
});

describe('stepwise-client score', () => {
  it("prints per target each token's id, logprob and rank, the top alternatives, and the sum and mean Score answers", async () => {
    const outcome = await scoreCommand(INPUT, ...TARGETS, '--top', '2');
    expect(outcome.code, outcome.stderr).toBe(0);
    const printed = tables(outcome.stdout);
    expect(printed.map((table) => table.label)).toEqual(TARGETS);
    printed.forEach((table, index) => {
      const target = reference.results[index]!;
      expect(table.count).toBe(target.tokens.length);
      expect(table.rows.map((row) => row.position)).toEqual(target.tokens.map((_, position) => position));
      expect(table.rows.map((row) => row.tokenId)).toEqual(target.tokenIds);
      table.rows.forEach((row, position) => {
        const token = target.tokens[position]!;
        expect(row.logprob).toBeCloseTo(token.logprob, 4);
        expect(row.rank).toBe(token.rank);
        expect(row.alternatives).toHaveLength(2);
        row.alternatives.forEach((logprob, i) => expect(logprob).toBeCloseTo(token.alternatives[i]!.logprob, 4));
      });
      expect(table.sum).toBeCloseTo(target.logprobSum, 4);
      expect(table.mean).toBeCloseTo(target.logprobMean, 4);
    });
  });

  it('--json prints the whole answer as one object with the numbers the library gets', async () => {
    const outcome = await scoreCommand(INPUT, ...TARGETS, '--json', '--top', '2', '--entropy');
    expect(outcome.code, outcome.stderr).toBe(0);
    const answer = JSON.parse(outcome.stdout) as {
      input_ids: number[];
      decoder_prompt_ids: number[];
      results: Array<{
        target: string;
        text: string;
        token_ids: number[];
        logprob_sum: number;
        logprob_mean: number;
        tokens: Array<{ token_id: number; text: string; logprob: number; rank: number; entropy: number; alternatives: Array<{ token_id: number; text: string; logprob: number }> }>;
      }>;
    };
    expect(answer.input_ids).toEqual(reference.inputIds);
    expect(answer.decoder_prompt_ids).toEqual(reference.decoderPromptIds);
    expect(answer.results).toEqual(
      reference.results.map((target, index) => ({
        target: TARGETS[index],
        text: target.text,
        token_ids: target.tokenIds,
        logprob_sum: target.logprobSum,
        logprob_mean: target.logprobMean,
        tokens: target.tokens.map((token) => ({
          token_id: token.tokenId,
          text: token.text,
          logprob: token.logprob,
          rank: token.rank,
          entropy: token.entropy,
          alternatives: token.alternatives.map((alternative) => ({ token_id: alternative.tokenId, text: alternative.text, logprob: alternative.logprob })),
        })),
      })),
    );
  });

  it('--ids scores token ids as given; --top 0 lists no alternatives', async () => {
    const ids = reference.results[1]!.tokenIds.slice(0, -1); // without the </s> a text target gets
    const outcome = await scoreCommand(INPUT, ids.join(','), '--ids', '--top', '0');
    expect(outcome.code, outcome.stderr).toBe(0);
    const [table] = tables(outcome.stdout);
    expect(table!.rows.map((row) => row.tokenId)).toEqual(ids);
    expect(table!.rows.every((row) => row.alternatives.length === 0)).toBe(true);
    table!.rows.forEach((row, position) => expect(row.logprob).toBeCloseTo(reference.results[1]!.tokens[position]!.logprob, 4));
  });

  it("a refusal is the server's message on one line of stderr, exit code 1; a malformed --ids target is a usage error", async () => {
    const refused = await scoreCommand(INPUT, 'Haus', '--top', '65');
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe('');
    expect(refused.stderr.trim().split('\n')).toEqual(['stepwise score: Score failed with INVALID_ARGUMENT: `top_n_alternatives` must be in [0, 64]; given 65']);
    const malformed = await scoreCommand(INPUT, '12,x', '--ids');
    expect(malformed.code).toBe(1);
    expect(malformed.stderr).toContain('with --ids, each target must be token ids separated by commas, e.g. 644,4598,1; given "12,x"');
  });
});

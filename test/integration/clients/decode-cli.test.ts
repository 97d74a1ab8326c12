/**
 * `stepwise decode` as a user runs it (a child process) against a live server: the table's numbers are those
 * of the streamed logits, `--jsonl` and `--npy` hold every step, `--force` changes the continuation.
 * (NumPy itself reads the `.npy` file in the Python tests.)
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StepwiseClient, entropyOf, logSumExp, probabilityOf, topKIds, type DecodedStep } from '../../../clients/ts/index.js';
import { tinyModels } from '../../fixtures/models.js';
import { startTestServer, type TestServer } from '../../support/test-server.js';

const run = promisify(execFile);
const TEXT = 'translate English to German: The house is wonderful.';
const STEPS = 6;

let server: TestServer;
let greedy: DecodedStep[];
const folder = mkdtempSync(join(tmpdir(), 'stepwise-decode-cli-'));

/** Runs `stepwise decode TEXT --server ADDRESS ...args`; resolves with its output and exit code. */
async function decodeCommand(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      ['--import', 'tsx', 'clients/ts/cli/main.ts', 'decode', TEXT, '--server', server.address, ...args],
      { timeout: 60_000 },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

interface TableRow {
  step: number;
  forced: boolean;
  tokenId: number;
  probability: number;
  entropy: number;
  alternatives: number[];
}

/** The step rows of the printed table. */
function tableRows(stdout: string): TableRow[] {
  const rows: TableRow[] = [];
  for (const line of stdout.split('\n')) {
    const match = /^ *(\d+) ([* ])  (".*?")\s+(\d+)\s+(\d\.\d{4})\s+(\d+\.\d{3})(.*)$/.exec(line);
    if (match === null) continue;
    rows.push({
      step: Number(match[1]),
      forced: match[2] === '*',
      tokenId: Number(match[4]),
      probability: Number(match[5]),
      entropy: Number(match[6]),
      alternatives: [...match[7]!.matchAll(/ (\d\.\d{4})/g)].map((alternative) => Number(alternative[1])),
    });
  }
  return rows;
}

beforeAll(async () => {
  server = await startTestServer({ modelDir: tinyModels.reluTied });
  const client = new StepwiseClient(server.address);
  greedy = [];
  for await (const step of client.decode({ text: TEXT, maxNewTokens: STEPS, selection: 'greedy' })) greedy.push(step);
  client.close();
});
afterAll(async () => {
  rmSync(folder, { recursive: true, force: true });
  await server?.stop();
});

describe('stepwise decode', () => {
  let plain: { code: number; stdout: string; stderr: string };
  const jsonlPath = join(folder, 'steps.jsonl');
  const npyPath = join(folder, 'logits.npy');
  beforeAll(async () => {
    plain = await decodeCommand('--max-new-tokens', String(STEPS), '--jsonl', jsonlPath, '--npy', npyPath);
  });

  it('prints one row per step whose probability, entropy and top-5 are the softmax of the streamed logits', () => {
    expect(plain.code).toBe(0);
    const rows = tableRows(plain.stdout);
    expect(rows.map((row) => row.tokenId)).toEqual(greedy.map((step) => step.token.tokenId));
    rows.forEach((row, index) => {
      const logits = greedy[index]!.logits!;
      const lse = logSumExp(logits);
      expect(row.step).toBe(index);
      expect(row.forced).toBe(false);
      expect(row.probability).toBeCloseTo(probabilityOf(logits, row.tokenId, lse), 4);
      expect(row.entropy).toBeCloseTo(entropyOf(logits, lse), 3);
      expect(row.alternatives).toEqual(topKIds(logits, 5).map((id) => Number(probabilityOf(logits, id, lse).toFixed(4))));
    });
  });

  it('prints the decoded text and why decoding ended after the table', async () => {
    const client = new StepwiseClient(server.address);
    const text = await client.detokenize(
      greedy.map((step) => step.token.tokenId),
      true,
    );
    client.close();
    expect(plain.stdout).toContain(`\n${text}\n(MAX_NEW_TOKENS after ${STEPS} tokens)\n`);
  });

  it('--jsonl writes one JSON object per step with the numbers of the table', () => {
    const lines = readFileSync(jsonlPath, 'utf8').trimEnd().split('\n').map((line) => JSON.parse(line));
    expect(lines).toHaveLength(STEPS);
    lines.forEach((line, index) => {
      const logits = greedy[index]!.logits!;
      expect(line.step).toBe(index);
      expect(line.token_id).toBe(greedy[index]!.token.tokenId);
      expect(line.probability).toBeCloseTo(probabilityOf(logits, line.token_id), 12);
      expect(line.logprob).toBe(greedy[index]!.token.logprob);
      expect(line.alternatives.map((alternative: { token_id: number }) => alternative.token_id)).toEqual(topKIds(logits, 5));
    });
  });

  it('--npy writes a float32 [steps, vocab] matrix whose rows are the streamed logits, bit for bit', () => {
    const bytes = readFileSync(npyPath);
    const headerLength = bytes.readUInt16LE(8);
    const header = bytes.subarray(10, 10 + headerLength).toString('latin1');
    const vocab = greedy[0]!.logits!.length;
    expect(header).toContain(`'descr': '<f4', 'fortran_order': False, 'shape': (${STEPS}, ${vocab})`);
    expect((10 + headerLength) % 64).toBe(0);
    const data = bytes.subarray(10 + headerLength);
    expect(data.length).toBe(STEPS * vocab * 4);
    greedy.forEach((step, index) => {
      const row = Buffer.from(step.logits!.buffer, step.logits!.byteOffset, step.logits!.byteLength);
      expect(data.subarray(index * vocab * 4, (index + 1) * vocab * 4).equals(row)).toBe(true);
    });
  });

  it('--force ID@STEP takes that token at that step, marks the row, and changes the continuation', async () => {
    const other = topKIds(greedy[2]!.logits!, 2)[1]!;
    const forced = await decodeCommand('--max-new-tokens', String(STEPS), '--force', `${other}@2`, '--show-top', '0');
    expect(forced.code).toBe(0);
    const rows = tableRows(forced.stdout);
    expect(rows.map((row) => row.forced)).toEqual(rows.map((row) => row.step === 2));
    expect(rows[2]!.tokenId).toBe(other);
    expect(rows.slice(0, 2).map((row) => row.tokenId)).toEqual(greedy.slice(0, 2).map((step) => step.token.tokenId));
    expect(rows.slice(3).map((row) => row.probability)).not.toEqual(tableRows(plain.stdout).slice(3).map((row) => row.probability));
    expect(forced.stdout).toContain('* forced by the client');
  });

  it('names a --force step the decode never reached', async () => {
    const late = await decodeCommand('--max-new-tokens', '2', '--force', '5@9', '--show-top', '0');
    expect(late.code).toBe(0);
    expect(late.stderr).toContain('--force 5@9 was not applied: the decode finished after 2 steps');
  });

  it('rejects a malformed --force before connecting, naming the value', async () => {
    const malformed = await decodeCommand('--force', '5-at-2');
    expect(malformed.code).not.toBe(0);
    expect(malformed.stderr).toContain('--force must be ID@STEP with non-negative integers, e.g. 644@2; given 5-at-2');
  });

  it('reports the server message for an out-of-range sampling parameter and exits with 1', async () => {
    const invalid = await decodeCommand('--top-p', '1.5', '--seed', '3', '--max-new-tokens', '2');
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(/^stepwise decode: Decode failed with INVALID_ARGUMENT: .*top_p.*1\.5/);
  });

  it('samples reproducibly with --seed: the same seed gives the same tokens', async () => {
    const args = ['--max-new-tokens', '4', '--temperature', '1.5', '--top-p', '0.9', '--seed', '7', '--show-top', '0'];
    const first = tableRows((await decodeCommand(...args)).stdout).map((row) => row.tokenId);
    const second = tableRows((await decodeCommand(...args)).stdout).map((row) => row.tokenId);
    expect(first).toHaveLength(4);
    expect(second).toEqual(first);
  });

  it("--model decodes on the model it names (here the server's one model, by its folder name); an unknown one is NOT_FOUND", async () => {
    const plain = await decodeCommand('--max-new-tokens', '3');
    const named = await decodeCommand('--max-new-tokens', '3', '--model', 'tiny-relu-tied');
    expect(named.code).toBe(0);
    expect(tableRows(named.stdout)).toEqual(tableRows(plain.stdout));
    const unknown = await decodeCommand('--max-new-tokens', '3', '--model', 't5-large');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('Decode failed with NOT_FOUND: `model` must be one of the served models "tiny-relu-tied"; given "t5-large"');
  });
});

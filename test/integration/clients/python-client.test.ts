/**
 * The Python client against a live server, run by `npm test`: its unittest suite (which also compares its
 * logits with the TypeScript CLI's `.npy`, bit for bit, and runs the README's grpcurl calls through
 * reflection), and each example of the README, whose printed numbers are checked against the TypeScript
 * client's logits for the same decode.
 *
 * The system Python (`/usr/bin/python3`) must have Debian's python3-grpcio, python3-grpc-tools,
 * python3-numpy and python3-protobuf; `npm test` installs them first (scripts/ensure-python-packages.sh).
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StepwiseClient, entropyOf, logSumExp, probabilityOf, topKIds, type DecodedStep } from '../../../clients/ts/index.js';
import { tinyModels } from '../../fixtures/models.js';
import { startTestServer, type TestServer } from '../../support/test-server.js';
import { requirePythonPackages, runPython, type PythonOutcome } from './system-python.js';

const README = 'clients/README.md';
const TEXT = 'translate English to German: The house is wonderful.';

let server: TestServer;
const folder = mkdtempSync(join(tmpdir(), 'stepwise-python-'));

function python(args: readonly string[], cwd?: string): Promise<PythonOutcome> {
  return runPython(args, { cwd, server: server.address });
}

/** `stepwise serve` from this checkout, for the suite's own test of `stepwise_client.testing.start_server`. */
const SERVE_COMMAND = `'${process.execPath}' --import tsx src/cli.ts serve --model '${tinyModels.reluTied}'`;

/** The README's example command lines (`/usr/bin/python3 clients/python/examples/NAME.py ...`), by example. */
function readmeExampleCommands(): Map<string, string[]> {
  const commands = new Map<string, string[]>();
  for (const line of readFileSync(README, 'utf8').split('\n')) {
    const match = /^\/usr\/bin\/python3 (clients\/python\/examples\/(\w+)\.py)(.*)$/.exec(line);
    if (match !== null) commands.set(match[2]!, [match[1]!, ...match[3]!.trim().split(/\s+/).filter(Boolean)]);
  }
  return commands;
}

/** The TypeScript client's greedy decode, the reference for the examples' numbers. */
async function greedyDecode(maxNewTokens: number): Promise<DecodedStep[]> {
  const client = new StepwiseClient(server.address);
  const steps: DecodedStep[] = [];
  for await (const step of client.decode({ text: TEXT, maxNewTokens, selection: 'greedy' })) steps.push(step);
  client.close();
  return steps;
}

function optionValue(args: readonly string[], name: string): string {
  const index = args.indexOf(name);
  if (index < 0) throw new Error(`the README's command has no ${name}: ${args.join(' ')}`);
  return args[index + 1]!;
}

beforeAll(async () => {
  await requirePythonPackages();
  server = await startTestServer({ modelDir: tinyModels.reluTied });
});
afterAll(async () => {
  rmSync(folder, { recursive: true, force: true });
  await server?.stop();
});

describe('Python client', () => {
  it('passes its unittest suite against the live server, every test run and none skipped', async () => {
    const outcome = await runPython(['-m', 'unittest', 'discover', '-s', 'clients/python/tests', '-v'], {
      server: server.address,
      env: { STEPWISE_SERVE_COMMAND: SERVE_COMMAND },
    });
    const report = outcome.stderr; // unittest reports on stderr
    expect(outcome.code, report).toBe(0);
    const declared = readdirSync('clients/python/tests')
      .filter((file) => /^test_.*\.py$/.test(file))
      .reduce((count, file) => count + (readFileSync(join('clients/python/tests', file), 'utf8').match(/^ {4}def test_/gm)?.length ?? 0), 0);
    expect(report).toMatch(new RegExp(`Ran ${declared} tests? in`));
    expect(report).toMatch(/\nOK\n/);
    expect(report).not.toMatch(/skipped/);
  });
});

describe('Python examples, as the README runs them', () => {
  const commands = readmeExampleCommands();

  it('each example says in one line, without a traceback, that no server answers, and exits 2', async () => {
    for (const [name, args] of commands) {
      const outcome = await runPython([...args, '--server', '127.0.0.1:1'], { server: '' });
      expect(outcome.code, name).toBe(2);
      expect(outcome.stdout, name).toBe('');
      expect(outcome.stderr.trim().split('\n'), name).toEqual([
        expect.stringMatching(new RegExp(`^${name}\\.py: no Stepwise server answers at 127\\.0\\.0\\.1:1 \\(.+\\); start one with \`npm start\`, or name another with --server HOST:PORT$`)),
      ]);
    }
  });

  it('the README runs each of the four examples', () => {
    expect([...commands.keys()].sort()).toEqual(['beam_search', 'custom_strategy', 'export_logits', 'uncertainty']);
  });

  it('beam_search.py prints its hypotheses best first, found on forked and dropped branches', async () => {
    const args = commands.get('beam_search')!;
    const beams = Number(optionValue(args, '--beams'));
    const steps = Number(optionValue(args, '--max-new-tokens'));
    const outcome = await python(args);
    expect(outcome.code, outcome.stderr).toBe(0);
    const rows = [...outcome.stdout.matchAll(/^(\d+)\. +(-\d+\.\d{4}) +\[([\d, ]+)\] +'.*'$/gm)];
    expect(rows.map((row) => Number(row[1]))).toEqual(Array.from({ length: beams }, (_, i) => i + 1));
    const scores = rows.map((row) => Number(row[2]));
    expect([...scores].sort((a, b) => b - a)).toEqual(scores);
    for (const row of rows) expect(row[3]!.split(', ').length).toBeLessThanOrEqual(steps);
    expect(outcome.stdout).toMatch(/^forks: [1-9]\d*, drops: [1-9]\d*$/m);
  });

  it('uncertainty.py prints each step with the probability, entropy and top-2 margin of its raw logits', async () => {
    const args = commands.get('uncertainty')!;
    const steps = Number(optionValue(args, '--max-new-tokens'));
    const outcome = await python(args);
    expect(outcome.code, outcome.stderr).toBe(0);
    const rows = [...outcome.stdout.matchAll(/^ +(\d+) +'.*?' +(\d\.\d{4}) +(\d+\.\d{4}) +(\d\.\d{4})$/gm)];
    const reference = await greedyDecode(steps);
    expect(rows).toHaveLength(steps);
    rows.forEach((row, index) => {
      const logits = reference[index]!.logits!;
      const lse = logSumExp(logits);
      const [first, second] = topKIds(logits, 2).map((id) => probabilityOf(logits, id, lse));
      expect(Number(row[1])).toBe(index);
      expect(Number(row[2])).toBeCloseTo(probabilityOf(logits, reference[index]!.token.tokenId, lse), 4);
      expect(Number(row[3])).toBeCloseTo(entropyOf(logits, lse), 4);
      expect(Number(row[4])).toBeCloseTo(first! - second!, 4);
    });
    const margins = rows.map((row) => Number(row[4]));
    expect(outcome.stdout).toContain(`least certain step: ${margins.indexOf(Math.min(...margins))} `);
    expect(outcome.stdout).toMatch(new RegExp(`mean entropy: \\d+\\.\\d{4} nats over ${steps} steps`));
  });

  it('custom_strategy.py forces the word into a decode that lacked it, and the constraint holds', async () => {
    const args = commands.get('custom_strategy')!;
    const word = optionValue(args, '--word');
    const steps = Number(optionValue(args, '--max-new-tokens'));
    const outcome = await python(args);
    expect(outcome.code, outcome.stderr).toBe(0);
    const client = new StepwiseClient(server.address);
    const { tokenIds: wordIds } = await client.tokenize(word, false);
    const plainText = await client.detokenize((await greedyDecode(steps)).map((step) => step.token.tokenId), true);
    client.close();
    expect(outcome.stdout).toContain(`word '${word}' is tokens [${wordIds.join(', ')}]`);
    expect(outcome.stdout).toContain(`unconstrained: '${plainText}'`);
    expect(plainText).not.toContain(word);
    expect(outcome.stdout).toMatch(/forced the word at step \d+/);
    expect(outcome.stdout).toMatch(new RegExp(`constrained: +'.*${word}.*'`));
    expect(outcome.stdout).toContain('constraint holds: True');
  });

  it('export_logits.py saves a [steps, vocab] float32 .npy whose rows are the streamed logits, bit for bit', async () => {
    const args = commands.get('export_logits')!;
    const out = join(folder, 'exported.npy');
    const argsHere = args.map((arg, index) => (args[index - 1] === '--out' ? out : arg));
    const steps = Number(optionValue(args, '--max-new-tokens'));
    const outcome = await python(argsHere);
    expect(outcome.code, outcome.stderr).toBe(0);
    const reference = await greedyDecode(steps);
    const vocab = reference[0]!.logits!.length;
    expect(outcome.stdout).toContain(`wrote ${out}: shape (${steps}, ${vocab}), dtype float32`);
    expect(outcome.stdout).toContain('identical to the streamed logits: True');
    expect(outcome.stdout).toContain('argmax of every row is the greedy token: True');
    const bytes = readFileSync(out);
    const data = bytes.subarray(10 + bytes.readUInt16LE(8));
    const expected = Buffer.concat(reference.map((step) => Buffer.from(step.logits!.buffer, step.logits!.byteOffset, step.logits!.byteLength)));
    expect(data.equals(expected)).toBe(true);
  });
});

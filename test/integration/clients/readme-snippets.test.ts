/**
 * The code in clients/README.md runs as written against the server `npm start` runs (`stepwise serve` with
 * its embedded model, on a free port that replaces the README's): the four TypeScript snippets, the two
 * Python snippets of the library (decoding, branches), and the `stepwise-client decode` and `score` commands, whose output must be the one the
 * README shows.
 * The example scripts and the grpcurl calls of the README are run by the Python tests, the pytest snippets
 * by python-package.test.ts.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StepwiseClient } from '../../../clients/ts/index.js';
import { requirePythonPackages, runPython } from './system-python.js';

const execute = promisify(execFile);
const README_ADDRESS = '127.0.0.1:50051';
const SNIPPET_FOLDER = '.cache/readme-snippets';

/** The README's fenced code blocks of one language ('' for those without one), in order, each ending with a newline. */
function codeBlocks(language: string): string[] {
  const blocks: string[] = [];
  let open: { language: string; lines: string[] } | undefined;
  for (const line of readFileSync('clients/README.md', 'utf8').split('\n')) {
    const fence = /^```(\w*)$/.exec(line);
    if (open === undefined) {
      if (fence !== null) open = { language: fence[1]!, lines: [] };
    } else if (line === '```') {
      if (open.language === language) blocks.push(`${open.lines.join('\n')}\n`);
      open = undefined;
    } else {
      open.lines.push(line);
    }
  }
  return blocks;
}

/** `stepwise serve --port 0`, as `npm start` runs it, and the address it reports. */
let serve: ChildProcess;
let address: string;

async function startServeCommand(): Promise<void> {
  serve = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'serve', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  address = await new Promise<string>((resolve, reject) => {
    const onOutput = (chunk: Buffer): void => {
      log += chunk.toString();
      const serving = /serving model .* on (127\.0\.0\.1:\d+)/.exec(log);
      if (serving !== null) resolve(serving[1]!);
    };
    serve.stdout!.on('data', onOutput);
    serve.stderr!.on('data', onOutput);
    serve.once('exit', (code) => reject(new Error(`stepwise serve exited with ${code} before serving:\n${log}`)));
  });
}

async function run(command: string, args: readonly string[]): Promise<string> {
  const { stdout } = await execute(command, args, { timeout: 60_000 });
  return stdout;
}

/** Runs a TypeScript snippet as a module of the repository (its imports rewritten to the snippet's folder). */
async function runTypeScript(snippet: string, name: string): Promise<string> {
  const file = join(SNIPPET_FOLDER, `${name}.mts`);
  writeFileSync(file, snippet.replaceAll("'./clients/ts/", "'../../clients/ts/").replaceAll(README_ADDRESS, address));
  return run(process.execPath, ['--import', 'tsx', file]);
}

beforeAll(async () => {
  mkdirSync(SNIPPET_FOLDER, { recursive: true });
  await startServeCommand();
});
afterAll(async () => {
  rmSync(SNIPPET_FOLDER, { recursive: true, force: true });
  if (serve?.exitCode === null) {
    serve.kill('SIGTERM'); // graceful shutdown, as on Ctrl-C
    await once(serve, 'exit');
  }
});

describe('clients/README.md', () => {
  it('has the four TypeScript snippets, the Python snippets and the decode and score commands run here', () => {
    expect(codeBlocks('ts')).toHaveLength(4);
    // The first two; the other two (a pytest test and its conftest.py) are run by python-package.test.ts.
    expect(codeBlocks('python')).toHaveLength(4);
    expect(codeBlocks('sh').join('\n')).toContain('npm run -s client -- decode ');
    expect(codeBlocks('sh').join('\n')).toContain('npm run -s client -- score ');
  });

  it('the session snippet prints every step’s logits and takes the forced token at step 1', async () => {
    const output = await runTypeScript(codeBlocks('ts')[0]!, 'session');
    const client = new StepwiseClient(address);
    const vocab = (await client.getModelInfo()).vocabSize;
    client.close();
    expect(output.match(/^step \d+: (\d+) logits, max -?\d+\.\d{3}$/gm)).toHaveLength(5);
    expect(output).toContain(`step 0: ${vocab} logits`);
    expect(output.split('\n').filter((line) => line.startsWith('  took '))[1]).toMatch(/^ {2}took 5 /);
  });

  it('the lockstep snippet prints each decoded step and the finished token ids', async () => {
    const output = await runTypeScript(codeBlocks('ts')[1]!, 'lockstep');
    const lines = output.trimEnd().split('\n');
    expect(lines.slice(0, 4).map((line) => Number(line.split(' ')[0]))).toEqual([0, 1, 2, 3]);
    const ids = lines.slice(0, 4).map((line) => Number(line.split(' ')[1]));
    expect(ids[0]).not.toBe(9); // banned at step 0
    expect(lines.slice(4).join(' ')).toBe(`[ ${ids.join(', ')} ]`);
  });

  it('the score snippet prints each target\'s ids, sum and mean, and each token\'s rank, logprob and row width', async () => {
    const output = await runTypeScript(codeBlocks('ts')[2]!, 'score');
    const client = new StepwiseClient(address);
    const vocab = (await client.getModelInfo()).vocabSize;
    const textIds = (await client.tokenize('Das Haus ist wunderbar.')).tokenIds;
    client.close();
    const targets = [...output.matchAll(/^([\d ]+) (-\d+\.\d{4}) (-\d+\.\d{4})$/gm)];
    expect(targets.map((target) => target[1])).toEqual([textIds.join(' '), '334 331 1']);
    const tokens = output.match(/^ {2}\d+ rank \d+ logprob -\d+\.\d{4} row (\d+)$/gm)!;
    expect(tokens).toHaveLength(textIds.length + 3);
    expect(tokens.every((line) => line.endsWith(` row ${vocab}`))).toBe(true);
  });

  it('the score command prints exactly the tables the README shows', async () => {
    const line = codeBlocks('sh').join('\n').split('\n').find((candidate) => candidate.includes('npm run -s client -- score '))!;
    const args = [...line.split(' -- ')[1]!.matchAll(/"([^"]*)"|(\S+)/g)].map((match) => match[1] ?? match[2]!);
    const output = await run(process.execPath, ['--import', 'tsx', 'clients/ts/cli/main.ts', ...args, '--server', address]);
    expect(output).toBe(codeBlocks('').find((block) => block.startsWith('target ')));
  });

  it('the Python snippet prints float32 logits of the vocabulary width and the forced token', async () => {
    await requirePythonPackages();
    const snippet = codeBlocks('python')[0]!.replaceAll(README_ADDRESS, address);
    const { code, stdout: output, stderr } = await runPython(['-c', snippet]);
    expect(code, stderr).toBe(0);
    const steps = [...output.matchAll(/^(\d+) (\d+) float32 \((\d+),\) -?\d/gm)];
    expect(steps.map((step) => Number(step[1]))).toEqual([0, 1, 2, 3, 4]);
    expect(Number(steps[1]![2])).toBe(5);
  });

  it('the branch snippets, TypeScript and Python, fork at step 0, force 9 on branch 1, drop it at step 2, end with branch 0', async () => {
    await requirePythonPackages();
    const python = await runPython(['-c', codeBlocks('python')[1]!.replaceAll(README_ADDRESS, address)]);
    expect(python.code, python.stderr).toBe(0);
    for (const output of [await runTypeScript(codeBlocks('ts')[3]!, 'branches'), python.stdout]) {
      expect(output).toContain('forked 1 from 0 at step 0\n');
      const tokens = (branch: number): number[][] =>
        [...output.matchAll(new RegExp(`^branch ${branch} step (\\d+): (\\d+)$`, 'gm'))].map((match) => [Number(match[1]), Number(match[2])]);
      expect(tokens(1)).toEqual([[0, 9], [1, expect.any(Number)]]); // dropped at step 2
      expect(tokens(0).map(([step]) => step)).toEqual([0, 1, 2, 3]);
      const finished = output.match(/^branch (\d+) finished: (.*)$/gm)!;
      expect(finished).toEqual([`branch 0 finished: ${tokens(0).map(([, id]) => id).join(' ')}`]);
    }
  });

  it('the decode command prints exactly the table and text the README shows', async () => {
    const line = codeBlocks('sh').join('\n').split('\n').find((candidate) => candidate.includes('npm run -s client -- decode '))!;
    const args = [...line.split(' -- ')[1]!.matchAll(/"([^"]*)"|(\S+)/g)].map((match) => match[1] ?? match[2]!);
    const output = await run(process.execPath, ['--import', 'tsx', 'clients/ts/cli/main.ts', ...args, '--server', address]);
    const shown = codeBlocks('').find((block) => block.startsWith('step '));
    expect(output).toBe(shown);
    expect(output).toMatch(/^ {3}2 \* {2}" ?\S*" +5 /m);
  });
});

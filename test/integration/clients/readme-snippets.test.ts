/**
 * The code in clients/README.md runs as written, against a live server (the README's address replaced by
 * the test server's): both TypeScript snippets, the Python snippet and the `stepwise decode` command.
 * The example scripts and the grpcurl calls of the README are run by the Python tests.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tinyModels } from '../../fixtures/models.js';
import { startTestServer, type TestServer } from '../../support/test-server.js';
import { requirePythonPackages, runPython } from './system-python.js';

const execute = promisify(execFile);
const README_ADDRESS = '127.0.0.1:50051';
const SNIPPET_FOLDER = '.cache/readme-snippets';

/** The README's fenced code blocks of one language, in order. */
function codeBlocks(language: string): string[] {
  const readme = readFileSync('clients/README.md', 'utf8');
  return [...readme.matchAll(new RegExp('^```' + language + '\\n([\\s\\S]*?)^```$', 'gm'))].map((match) => match[1]!);
}

let server: TestServer;

async function run(command: string, args: readonly string[]): Promise<string> {
  const { stdout } = await execute(command, args, { timeout: 60_000, env: { ...process.env } });
  return stdout;
}

/** Runs a TypeScript snippet as a module of the repository (its imports rewritten to the snippet's folder). */
async function runTypeScript(snippet: string, name: string): Promise<string> {
  const file = join(SNIPPET_FOLDER, `${name}.mts`);
  writeFileSync(file, snippet.replaceAll("'./clients/ts/", "'../../clients/ts/").replaceAll(README_ADDRESS, server.address));
  return run(process.execPath, ['--import', 'tsx', file]);
}

beforeAll(async () => {
  mkdirSync(SNIPPET_FOLDER, { recursive: true });
  server = await startTestServer({ modelDir: tinyModels.reluTied });
});
afterAll(async () => {
  rmSync(SNIPPET_FOLDER, { recursive: true, force: true });
  await server?.stop();
});

describe('clients/README.md', () => {
  it('has the two TypeScript snippets, the Python snippet and the decode command run here', () => {
    expect(codeBlocks('ts')).toHaveLength(2);
    expect(codeBlocks('python')).toHaveLength(1);
    expect(codeBlocks('sh').join('\n')).toContain('npm run -s stepwise -- decode ');
  });

  it('the session snippet prints every step’s logits and takes the forced token at step 1', async () => {
    const output = await runTypeScript(codeBlocks('ts')[0]!, 'session');
    const vocab = (await new Promise<number>((resolve, reject) =>
      server.client.getModelInfo({}, (error, info) => (error ? reject(error) : resolve(info.vocabSize))),
    ));
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

  it('the Python snippet prints float32 logits of the vocabulary width and the forced token', async () => {
    await requirePythonPackages();
    const snippet = codeBlocks('python')[0]!.replaceAll(README_ADDRESS, server.address);
    const { code, stdout: output, stderr } = await runPython(['-c', snippet]);
    expect(code, stderr).toBe(0);
    const steps = [...output.matchAll(/^(\d+) (\d+) float32 \((\d+),\) -?\d/gm)];
    expect(steps.map((step) => Number(step[1]))).toEqual([0, 1, 2, 3, 4]);
    expect(Number(steps[1]![2])).toBe(5);
  });

  it('the decode command prints the table with a forced row and the text', async () => {
    const line = codeBlocks('sh').join('\n').split('\n').find((candidate) => candidate.includes('npm run -s stepwise -- decode '))!;
    const args = [...line.split(' -- ')[1]!.matchAll(/"([^"]*)"|(\S+)/g)].map((match) => match[1] ?? match[2]!);
    const output = await run(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args, '--server', server.address]);
    expect(output).toMatch(/^step +token +id +prob +entropy +top-5 \(raw\)$/m);
    expect(output).toMatch(/^ {3}2 \* {2}" ?\S*" +5 /m);
    expect(output).toContain('(MAX_NEW_TOKENS after 6 tokens)');
  });
});

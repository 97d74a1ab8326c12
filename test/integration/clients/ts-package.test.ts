/**
 * The TypeScript client as a package, as another project gets it: `npm pack` in `clients/ts` (which builds
 * it), the tarball installed into an empty project outside the repository, a small program type-checked
 * against the installed declarations and run against a live server, and the installed `stepwise-client`
 * bin run (decode, score, --version).
 *
 * The empty project installs with `npm ci --offline` from a lockfile that pins the tarball and, for its
 * dependencies, the versions this repository's package-lock.json resolved (whose tarballs the npm cache
 * holds since the root's install), so the test needs no registry; only a cache cleaned since then makes it
 * fetch the missing tarballs.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tinyModels } from '../../fixtures/models.js';
import { startTestServer, type TestServer } from '../../support/test-server.js';

const execute = promisify(execFile);
const root = process.cwd();
const packageDir = join(root, 'clients', 'ts');
const manifest = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  license: string;
  dependencies: Record<string, string>;
  bin: Record<string, string>;
  engines: Record<string, string>;
};
const TEXT = 'translate English to German: The house is wonderful.';

/** A program a user would write: imports the package by name, decodes with a forced step, scores the result, prints a summary. */
const CONSUMER = `
import { StepwiseClient, accept, force, FinishReason, type DecodedStep, type ScoreResult } from 'stepwise-client';

const client = new StepwiseClient(process.argv[2]!);
const info = await client.getModelInfo();
const run = client.decode({ text: ${JSON.stringify(TEXT)}, maxNewTokens: 3, selection: 'greedy' }, (step) =>
  step.step === 1 ? force(5) : accept(),
);
const steps: DecodedStep[] = [];
for await (const step of run) steps.push(step);
const { finished } = await run.result();
const scored: ScoreResult = await client.score({ text: ${JSON.stringify(TEXT)}, targets: [finished.tokenIds], rawLogits: 'float32' });
client.close();
const rows: number[] = steps.map((step) => step.logits!.length);
const scoredRows: number[] = scored.results[0]!.tokens.map((token) => token.logits!.length);
console.log(JSON.stringify({ vocabSize: info.vocabSize, rows, tokenIds: finished.tokenIds, maxNewTokens: finished.reason === FinishReason.FINISH_REASON_MAX_NEW_TOKENS, scoredIds: scored.results[0]!.tokenIds, scoredRows }));

// Never called: proves the declarations are real types, not \`any\` (an unused @ts-expect-error fails tsc).
export function misuse(): void {
  // @ts-expect-error maxNewTokens is a number
  client.openDecode({ text: 'x', maxNewTokens: 'three' });
}
`;

let server: TestServer;
const consumerDir = mkdtempSync(join(tmpdir(), 'stepwise-client-consumer-'));
let tarball: string;

/** Runs a command; resolves with its output, or rejects with the command, its output and its exit code. */
async function run(command: string, args: readonly string[], cwd: string): Promise<string> {
  try {
    const { stdout } = await execute(command, args, { cwd, timeout: 180_000, maxBuffer: 16 << 20 });
    return stdout;
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(' ')} failed (${failed.code}):\n${failed.stdout ?? ''}\n${failed.stderr ?? ''}`);
  }
}

/**
 * The lock entries of `dependencies` and everything they need, at the same paths as in the repository's
 * package-lock.json (so each package resolves as there), found the way Node resolves: the nearest
 * `node_modules` up from the package that needs it.
 */
function lockClosure(dependencies: Record<string, string>): Record<string, unknown> {
  const locked = (JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, Record<string, unknown>> }).packages;
  const chosen: Record<string, unknown> = {};
  const locate = (from: string, name: string): string => {
    for (let base = from; ; base = base.slice(0, Math.max(0, base.lastIndexOf('/node_modules/')))) {
      const path = `${base === '' ? '' : `${base}/`}node_modules/${name}`;
      if (locked[path] !== undefined) return path;
      if (base === '') throw new Error(`${name}, needed by ${from || manifest.name}, is not in package-lock.json`);
    }
  };
  const add = (from: string, needs: Record<string, string> | undefined): void => {
    for (const name of Object.keys(needs ?? {})) {
      const path = locate(from, name);
      if (chosen[path] !== undefined) continue;
      const { dev: _dev, devOptional: _devOptional, peer: _peer, ...entry } = locked[path]!;
      chosen[path] = entry;
      add(path, entry.dependencies as Record<string, string> | undefined);
    }
  };
  add('', dependencies);
  return chosen;
}

/** An empty project whose one dependency is the tarball, with its lockfile. */
function writeConsumerProject(): void {
  const spec = `file:${basename(tarball)}`;
  const project = { name: 'consumer', version: '1.0.0', private: true, type: 'module', dependencies: { [manifest.name]: spec } };
  const integrity = `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`;
  const { name, version, license, dependencies, bin, engines } = manifest;
  const packages = {
    '': { name: project.name, version: project.version, dependencies: project.dependencies },
    [`node_modules/${name}`]: { version, resolved: spec, integrity, license, dependencies, bin, engines },
    ...lockClosure(dependencies),
  };
  writeFileSync(join(consumerDir, 'package.json'), JSON.stringify(project, null, 2));
  writeFileSync(join(consumerDir, 'package-lock.json'), JSON.stringify({ ...project, lockfileVersion: 3, requires: true, packages }, null, 2));
  writeFileSync(join(consumerDir, 'consumer.ts'), CONSUMER);
  const compilerOptions = { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, outDir: 'out', skipLibCheck: false };
  writeFileSync(join(consumerDir, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['consumer.ts'] }, null, 2));
}

beforeAll(async () => {
  server = await startTestServer({ modelDir: tinyModels.reluTied });
  await run('npm', ['pack', '--pack-destination', consumerDir], packageDir); // prepack builds dist/
  tarball = join(consumerDir, `${manifest.name}-${manifest.version}.tgz`);
  writeConsumerProject();
  try {
    await run('npm', ['ci', '--offline', '--no-audit', '--no-fund'], consumerDir);
  } catch (error) {
    // A cache that lacks one of the locked tarballs (cleaned since the root's install): fetch what is missing.
    if (!String(error).includes('ENOTCACHED')) throw error;
    await run('npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund'], consumerDir);
  }
}, 300_000);

afterAll(async () => {
  rmSync(consumerDir, { recursive: true, force: true });
  await server?.stop();
});

describe('the stepwise-client package', () => {
  it('holds the built client with its declarations, and depends on gRPC, the protobuf runtime and commander only', async () => {
    const files = (await run('tar', ['-tzf', tarball], consumerDir)).trim().split('\n').sort();
    for (const file of ['package/package.json', 'package/README.md', 'package/dist/index.js', 'package/dist/index.d.ts', 'package/dist/cli/main.js']) {
      expect(files).toContain(file);
    }
    expect(files).toContain('package/dist/gen/stepwise/v1/stepwise.d.ts');
    expect(files.filter((file) => !/^package\/(package\.json|README\.md|dist\/.*\.(js|d\.ts))$/.test(file))).toEqual([]);
    expect(Object.keys(manifest.dependencies).sort()).toEqual(['@bufbuild/protobuf', '@grpc/grpc-js', 'commander']);
    const installed = JSON.parse(readFileSync(join(consumerDir, 'node_modules', manifest.name, 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(installed.exports).toEqual({ '.': { types: './dist/index.d.ts', default: './dist/index.js' }, './package.json': './package.json' });
  });

  it("a program importing it type-checks against the installed declarations (with the root's tsc)", async () => {
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    await run(process.execPath, [tsc, '-p', join(consumerDir, 'tsconfig.json')], consumerDir);
    expect(existsSync(join(consumerDir, 'out', 'consumer.js'))).toBe(true);
  });

  it('that program runs against a live server: every step has its logits row, the forced token is taken', async () => {
    const output = await run(process.execPath, ['out/consumer.js', server.address], consumerDir);
    const summary = JSON.parse(output) as { vocabSize: number; rows: number[]; tokenIds: number[]; maxNewTokens: boolean; scoredIds: number[]; scoredRows: number[] };
    expect(summary.rows).toEqual([summary.vocabSize, summary.vocabSize, summary.vocabSize]);
    expect(summary.tokenIds).toHaveLength(3);
    expect(summary.tokenIds[1]).toBe(5);
    expect(summary.maxNewTokens).toBe(true);
    // It scored the decoded ids too, a row for each.
    expect(summary.scoredIds).toEqual(summary.tokenIds);
    expect(summary.scoredRows).toEqual(summary.rows);
  });

  it('its bin, stepwise-client, decodes and scores on the server and prints its version', async () => {
    const bin = join(consumerDir, 'node_modules', '.bin', 'stepwise-client');
    const table = await run(bin, ['decode', TEXT, '--server', server.address, '--max-new-tokens', '3', '--force', '5@1'], consumerDir);
    expect(table).toMatch(/^step +token +id +prob +entropy/m);
    expect(table).toMatch(/^ +1 \* +" and" +5 /m);
    expect(table).toContain('(MAX_NEW_TOKENS after 3 tokens)');
    const scored = JSON.parse(await run(bin, ['score', TEXT, 'Das Haus', '--json', '--server', server.address], consumerDir)) as { results: Array<{ target: string; tokens: unknown[] }> };
    expect(scored.results.map((target) => target.target)).toEqual(['Das Haus']);
    expect(scored.results[0]!.tokens.length).toBeGreaterThan(0);
    expect((await run(bin, ['--version'], consumerDir)).trim()).toBe(manifest.version);
  });
});

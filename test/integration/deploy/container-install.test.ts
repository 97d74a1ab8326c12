/**
 * The Dockerfile's steps, run where no image can be built (no container daemon, no registry): the build
 * context is a clean copy of the repository (its files as git lists them), each stage runs in its own
 * folder (`test/support/dockerfile.ts`): the build stage's `npm ci` (which compiles dist/), then the final
 * stage's `npm ci --omit=dev` beside the copied dist/. The final stage's entry point then serves from that
 * folder, with no dev dependency installed, and its HEALTHCHECK command answers. npm reads its cache first
 * (`prefer-offline`), as a BuildKit cache mount would.
 */
import { credentials, status as Status } from '@grpc/grpc-js';
import { execFileSync, spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StepwiseServiceClient } from '../../../src/gen/stepwise/v1/stepwise.js';
import { generateAll } from '../../support/decode-client.js';
import { execForm, lastOf, parseDockerfile, runStages, type BuiltStage } from '../../support/dockerfile.js';

const scratch = mkdtempSync(join(tmpdir(), 'stepwise-container-'));
const stages = parseDockerfile(readFileSync('Dockerfile', 'utf8'));
const final = stages.at(-1)!;
/** What a container starts with besides the image's ENV: the PATH to node and npm, and a HOME (npm's cache). */
const baseEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? scratch };

let built: BuiltStage[] = [];
let server: ChildProcessWithoutNullStreams | undefined;
let serverLog = '';
let address = '';
let exited: Promise<number | null> | undefined;

/** The repository as a build context: every file git tracks or would track (no node_modules, dist, .cache). */
function copyContext(): string {
  const context = join(scratch, 'context');
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { encoding: 'utf8' }).split('\0').filter(Boolean);
  for (const file of files) {
    // Deleted in the working tree but not yet in git; or a link to a shared folder (node_modules in a worktree).
    if (!existsSync(file) || lstatSync(file).isSymbolicLink()) continue;
    mkdirSync(join(context, dirname(file)), { recursive: true });
    cpSync(file, join(context, file));
  }
  return context;
}

/** Runs the final stage's HEALTHCHECK command in its folder against `port`; its exit code and output. */
function healthcheck(port: string): { status: number | null; output: string } {
  const { command } = execForm(lastOf(final, 'HEALTHCHECK')!);
  const [program, ...args] = command;
  const result = spawnSync(program === 'node' ? process.execPath : program!, args, {
    cwd: built.at(-1)!.folder,
    env: { ...built.at(-1)!.env, STEPWISE_PORT: port },
    encoding: 'utf8',
  });
  return { status: result.status, output: `${result.stdout}${result.stderr}`.trim() };
}

beforeAll(async () => {
  built = runStages(stages, copyContext(), scratch, baseEnv, { npm_config_prefer_offline: 'true', npm_config_audit: 'false', npm_config_fund: 'false' });
  const image = built.at(-1)!;
  const { command } = execForm(lastOf(final, 'ENTRYPOINT')!);
  const [program, ...args] = command;
  // The image's environment, with the ports and host a test can use.
  const env = { ...image.env, STEPWISE_HOST: '127.0.0.1', STEPWISE_PORT: '0', STEPWISE_METRICS_PORT: '0' };
  server = spawn(program === 'node' ? process.execPath : program!, args, { cwd: image.folder, env, stdio: ['pipe', 'pipe', 'pipe'] });
  exited = new Promise((resolve) => server!.once('exit', (code) => resolve(code)));
  address = await new Promise<string>((resolve, reject) => {
    const onOutput = (chunk: Buffer): void => {
      serverLog += chunk.toString();
      const serving = /serving model .* on (127\.0\.0\.1:\d+)/.exec(serverLog);
      if (serving) resolve(serving[1]!);
    };
    server!.stdout.on('data', onOutput);
    server!.stderr.on('data', onOutput);
    void exited!.then((code) => reject(new Error(`the image's entry point exited (${code}) before serving:\n${serverLog}`)));
  });
}, 300_000);

afterAll(() => {
  if (server && server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
  rmSync(scratch, { recursive: true, force: true });
});

describe('the Dockerfile', () => {
  it('builds in two stages, the final one installing production dependencies only and running as a non-root user', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(final.instructions.some((instruction) => instruction.keyword === 'RUN' && /\bnpm ci --omit=dev\b/.test(instruction.args))).toBe(true);
    expect(final.instructions.some((instruction) => instruction.keyword === 'COPY' && instruction.args.startsWith('--from='))).toBe(true);
    const user = built.at(-1)!.user;
    expect(user).toBeDefined();
    expect(['root', '0']).not.toContain(user);
    const { command, flags } = execForm(lastOf(final, 'HEALTHCHECK')!);
    expect(command.join(' ')).toContain('health-check');
    expect(flags.has('interval')).toBe(true);
  });

  it("its final stage serves from a folder where npm ci --omit=dev installed no dev dependency", async () => {
    const image = built.at(-1)!;
    for (const devDependency of ['typescript', 'tsx', 'vitest', '@huggingface/transformers']) {
      expect(existsSync(join(image.folder, 'node_modules', devDependency)), devDependency).toBe(false);
    }
    expect(existsSync(join(image.folder, 'src'))).toBe(false);
    const client = new StepwiseServiceClient(address, credentials.createInsecure());
    try {
      const generated = await generateAll(client, { input: { $case: 'text', value: 'translate English to German: The house is wonderful.' }, maxNewTokens: 4 });
      expect(generated.status.code).toBe(Status.OK);
      expect(generated.messages.at(-1)?.$case).toBe('finished');
    } finally {
      client.close();
    }
    // The embedded model was built by the image's own step, not at start-up.
    expect(serverLog).not.toContain('built the embedded model');
    const times = built.flatMap((stage) => stage.runs.map((run) => `${run.command.slice(0, 40)}: ${(run.ms / 1000).toFixed(1)} s`));
    console.log(`Dockerfile steps run: ${times.join('; ')}`);
  });

  it('its HEALTHCHECK says SERVING while the server serves, and fails once it stopped', async () => {
    const port = address.split(':')[1]!;
    expect(healthcheck(port)).toEqual({ status: 0, output: `127.0.0.1:${port}: SERVING` });
    server!.kill('SIGTERM');
    expect(await exited).toBe(0);
    const after = healthcheck(port);
    expect(after.status).toBe(1);
    expect(after.output).toMatch(new RegExp(`^health check of 127\\.0\\.0\\.1:${port}: `));
  });
});

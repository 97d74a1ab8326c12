/** `stepwise serve`'s model-thread flags: accepted values start a serving server, others are refused by name. */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';

interface Outcome {
  readonly code: number | null;
  readonly log: string;
  readonly served: boolean;
}

/** Runs `stepwise serve --port 0 ...args` until it reports serving (then stops it) or exits. */
async function serve(args: readonly string[]): Promise<Outcome> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'serve', '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const served = await new Promise<boolean>((resolve) => {
    const onOutput = (chunk: Buffer): void => {
      log += chunk.toString();
      if (/serving model .* on 127\.0\.0\.1:\d+/.test(log)) resolve(true);
    };
    child.stdout.on('data', onOutput);
    child.stderr.on('data', onOutput);
    child.once('exit', () => resolve(false));
  });
  if (served) {
    child.kill('SIGTERM');
    await once(child, 'exit');
  }
  return { code: child.exitCode, log, served };
}

describe('stepwise serve', () => {
  it('serves with --spinning off and --threads 1', async () => {
    const outcome = await serve(['--spinning', 'off', '--threads', '1']);
    expect(outcome.served, outcome.log).toBe(true);
  });

  it('serves with --spinning always, --run-ahead off and --model-thread-nice 0', async () => {
    const outcome = await serve(['--spinning', 'always', '--run-ahead', 'off', '--model-thread-nice', '0']);
    expect(outcome.served, outcome.log).toBe(true);
  });

  it('refuses any other --spinning value, naming the flag and the values it takes', async () => {
    const outcome = await serve(['--spinning', 'on']);
    expect(outcome.served).toBe(false);
    expect(outcome.code).not.toBe(0);
    expect(outcome.log).toContain('`--spinning` must be one of during-runs, always, off; given on');
  });

  it('refuses a --run-ahead value other than on or off', async () => {
    const outcome = await serve(['--run-ahead', 'yes']);
    expect(outcome.served).toBe(false);
    expect(outcome.code).not.toBe(0);
    expect(outcome.log).toContain('`--run-ahead` must be on or off; given yes');
  });

  it('refuses a --model-thread-nice outside [0, 19]', async () => {
    const outcome = await serve(['--model-thread-nice', '20']);
    expect(outcome.served).toBe(false);
    expect(outcome.log).toContain('`--model-thread-nice` must be an integer in [0, 19]; given 20');
  });
});

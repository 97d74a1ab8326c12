/**
 * `stepwise serve --model NAME=DIR --model DIR`: one process serves both, the first as the default, the bare
 * folder under its folder's name; two models with one name are refused at start-up in one line naming both.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { credentials } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StepwiseServiceClient } from '../../../src/gen/stepwise/v1/stepwise.js';
import { tinyModels } from '../../fixtures/models.js';
import { unary } from '../../support/decode-client.js';
import { startServeProcess, type ServeProcess } from '../../support/serve-process.js';

describe('stepwise serve with two models', () => {
  let served: ServeProcess;
  let client: StepwiseServiceClient;
  beforeAll(async () => {
    served = await startServeProcess(['--model', `tied=${tinyModels.reluTied}`, '--model', tinyModels.padded, '--log-format', 'json']);
    client = new StepwiseServiceClient(served.address, credentials.createInsecure());
  });
  afterAll(async () => {
    client?.close();
    served?.child.kill('SIGTERM');
    await served?.exited;
    served?.close();
  });

  it('serves both by name, the first as the default, and says so when ready', async () => {
    const { models } = await unary(client, 'listModels', {});
    expect(models.map(({ name, isDefault }) => ({ name, isDefault }))).toEqual([
      { name: 'tied', isDefault: true },
      { name: 'tiny-padded', isDefault: false },
    ]);
    expect(served.log()).toMatch(/serving model \\?"tied\\?" \(vocab \d+, default\), model \\?"tiny-padded\\?" \(vocab \d+\) on 127\.0\.0\.1:/);
    expect((await unary(client, 'getModelInfo', { model: 'tiny-padded' })).name).toBe('tiny-padded');
  });
});

describe('stepwise serve refuses two models with one name', () => {
  it('exits 1 with one line naming both', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'serve', '--port', '0', '--log-format', 'pretty', '--model', tinyModels.reluTied, '--model', `tiny-relu-tied=${tinyModels.padded}`], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    child.stdout.on('data', (chunk: Buffer) => (log += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()));
    const [code] = await once(child, 'exit');
    expect(code).toBe(1);
    expect(log).toContain(
      `cannot start: \`--model\` names two models "tiny-relu-tied": ${tinyModels.reluTied} and tiny-relu-tied=${tinyModels.padded}; give each its own name with NAME=DIR`,
    );
  });
});

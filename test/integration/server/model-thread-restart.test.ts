/**
 * A model thread that dies is the server's failure, not the client's: the streams that had a decode state
 * on it end with UNAVAILABLE, health goes NOT_SERVING while a new thread starts, the cause is logged, and
 * once the new thread is warmed up the server serves again, with the same results as before. When every
 * restart fails, health stays NOT_SERVING and requests get UNAVAILABLE.
 */
import { status as Status } from '@grpc/grpc-js';
import { cp, mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DecodeMode, FinishReason } from '../../../src/gen/stepwise/v1/stepwise.js';
import { ModelUnavailableError } from '../../../src/runtime/errors.js';
import { StepScheduler } from '../../../src/runtime/step-scheduler.js';
import { WorkerModel } from '../../../src/runtime/worker/index.js';
import { tinyModels } from '../../fixtures/models.js';
import { DecodeStream, generateAll, type StartInput } from '../../support/decode-client.js';
import { ACCEPT, rawRows, runLockstep } from '../../support/lockstep.js';
import { startTestServer, type TestServer } from '../../support/test-server.js';

const SERVICE = 'stepwise.v1.StepwiseService';
const INPUT: StartInput['input'] = { $case: 'text', value: 'translate English to German: the green house' };
// EOS masked, so the random model decodes the full length and every step is comparable.
const GENERATE = { input: INPUT, minNewTokens: 10, maxNewTokens: 10 } satisfies StartInput;

/** The worker model below the server's scheduler, whose thread the tests kill. */
function workerOf(server: TestServer): WorkerModel {
  const scheduler = server.app.model;
  if (!(scheduler instanceof StepScheduler) || !(scheduler.inner instanceof WorkerModel)) {
    throw new Error('the test server is expected to run a worker model behind the step scheduler');
  }
  return scheduler.inner;
}

function lockstepAcceptAll(server: TestServer) {
  const stream = DecodeStream.open(server.client);
  stream.start(GENERATE);
  return runLockstep(stream, (logits) => ({ step: logits.step, action: ACCEPT }));
}

/** What a stream's `finished` message says, timings aside (they differ between runs). */
function finishedOf(messages: readonly { $case: string; value: unknown }[]) {
  const last = messages.at(-1);
  if (last?.$case !== 'finished') return undefined;
  const { reason, tokenIds, text } = last.value as { reason: FinishReason; tokenIds: number[]; text: string };
  return { reason, tokenIds, text };
}

/** Waits for a log line that matches `pattern` (the restart runs on its own schedule). */
async function logged(server: TestServer, pattern: RegExp, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const line = server.logger.lines.find((entry) => pattern.test(entry));
    if (line !== undefined) return line;
    if (Date.now() > deadline) throw new Error(`nothing logged matches ${pattern} in ${timeoutMs} ms:\n${server.logger.lines.join('\n')}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('the model thread dies and is restarted', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ modelDir: tinyModels.reluTied, load: { restartDelayMs: 10 }, limits: { maxNewTokens: 600 } });
  });
  afterAll(async () => server?.stop());

  it('open streams end with UNAVAILABLE, health is NOT_SERVING then SERVING, and new streams decode as before', async () => {
    const generatedBefore = await generateAll(server.client, GENERATE);
    const lockstepBefore = await lockstepAcceptAll(server);
    expect(generatedBefore.status.code).toBe(Status.OK);
    expect(lockstepBefore.finished?.reason).toBe(FinishReason.FINISH_REASON_MAX_NEW_TOKENS);

    const watches = [server.watchHealth(''), server.watchHealth(SERVICE)];
    for (const watch of watches) expect(await watch.next()).toBe('SERVING');

    // A LOCKSTEP stream waiting for the decision on step 0 (its run-ahead step may be under way) ...
    const lockstep = DecodeStream.open(server.client);
    lockstep.start(GENERATE);
    await lockstep.expect('started');
    const step0 = await lockstep.expect('logits');
    // ... and an AUTO stream held mid-decode by a client that stopped reading.
    const auto = DecodeStream.open(server.client);
    auto.start({ input: INPUT, mode: DecodeMode.DECODE_MODE_AUTO, minNewTokens: 600, maxNewTokens: 600 });
    await auto.expect('started');
    auto.call.pause();
    expect(server.app.model.liveStates).toBe(2);

    await workerOf(server).terminateThread();

    for (const watch of watches) expect(await watch.next()).toBe('NOT_SERVING');
    auto.call.resume();
    // The LOCKSTEP client goes on accepting: a step computed before the kill may still be streamed, and
    // the first one that needs the thread ends the stream.
    lockstep.decide({ step: step0.step, action: ACCEPT });
    const lockstepMessages: string[] = [];
    for (let response = await lockstep.next(); response !== undefined; response = await lockstep.next()) {
      const message = response.message;
      if (message !== undefined) lockstepMessages.push(message.$case);
      if (message?.$case === 'logits') lockstep.decide({ step: message.value.step, action: ACCEPT });
    }
    const lockstepEnd = { messages: lockstepMessages, status: await lockstep.status };
    const autoEnd = await auto.drain();
    lockstep.call.end();
    auto.call.end();
    expect(lockstepEnd.messages).not.toContain('finished');
    for (const { status } of [lockstepEnd, autoEnd]) {
      expect(status.code).toBe(Status.UNAVAILABLE);
      // A step in flight at the kill says only why; one asked for after it names its lost state.
      expect(status.details).toMatch(/^the model thread stopped \(it exited with code 1(; decode state \d+ was on it)?\); the request can be retried/);
    }
    expect(autoEnd.messages.some((message) => message.$case === 'finished')).toBe(false);

    expect(server.logger.lines).toContain(
      `ERROR model "tiny-relu-tied": its thread stopped; health is NOT_SERVING and requests get UNAVAILABLE while it restarts`,
    );
    const cause = server.logger.causes.find((logged) => logged instanceof ModelUnavailableError);
    expect((cause as Error | undefined)?.message).toMatch(/it exited with code 1/);

    for (const watch of watches) expect(await watch.next()).toBe('SERVING');
    watches.forEach((watch) => watch.close());
    expect(await server.health()).toBe('SERVING');
    expect(server.logger.lines).toContain(`INFO model "tiny-relu-tied": its thread was restarted and warmed up (attempt 1); serving again`);

    const generatedAfter = await generateAll(server.client, GENERATE);
    expect(generatedAfter.status.code).toBe(Status.OK);
    expect(finishedOf(generatedAfter.messages)).toEqual(finishedOf(generatedBefore.messages));
    expect(generatedAfter.messages.filter((message) => message.$case === 'token')).toEqual(
      generatedBefore.messages.filter((message) => message.$case === 'token'),
    );
    const lockstepAfter = await lockstepAcceptAll(server);
    expect(lockstepAfter.tokens.map((token) => token.tokenId)).toEqual(lockstepBefore.tokens.map((token) => token.tokenId));
    expect(rawRows(lockstepAfter.logits)).toEqual(rawRows(lockstepBefore.logits));
    // Nothing of the lost streams stays behind: `stop` checks no stream and no decode state is left.
    await server.settled();
  });

});

describe('the model thread dies and cannot be restarted', () => {
  let server: TestServer;
  let folder: string;
  let moved: string;
  beforeAll(async () => {
    const parent = await mkdtemp(join(tmpdir(), 'stepwise-restart-'));
    folder = join(parent, basename(tinyModels.reluTied));
    moved = `${folder}.moved`;
    await cp(tinyModels.reluTied, folder, { recursive: true });
    server = await startTestServer({ modelDir: folder, load: { restartAttempts: 2, restartDelayMs: 10 } });
  });
  afterAll(async () => {
    await server?.stop();
    if (folder !== undefined) await rm(join(folder, '..'), { recursive: true, force: true });
  });

  it('health stays NOT_SERVING, the failure is logged and requests get UNAVAILABLE', async () => {
    await rename(folder, moved);
    await workerOf(server).terminateThread();
    await server.waitForHealth('NOT_SERVING');
    const gaveUp = await logged(server, /could not be restarted/);
    expect(gaveUp).toBe(
      'ERROR model "tiny-relu-tied": its thread could not be restarted (2 attempts); health stays NOT_SERVING and requests get UNAVAILABLE',
    );
    expect(server.logger.lines.filter((line) => line.startsWith('WARN') && /restart attempt 1 failed \(.*model folder does not exist\)/.test(line))).toHaveLength(1);
    expect(await server.health()).toBe('NOT_SERVING');
    expect(await server.health(SERVICE)).toBe('NOT_SERVING');

    const { status } = await generateAll(server.client, GENERATE);
    expect(status.code).toBe(Status.UNAVAILABLE);
    expect(status.details).toMatch(/^the model thread stopped \(it exited with code 1; 2 restart attempts failed, the last with: .*model folder does not exist\); the request can be retried/);
    await rename(moved, folder);
  });
});

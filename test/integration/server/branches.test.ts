/**
 * Branches of a `Decode` stream over the real server: each branch's rows are the runtime's rows for its
 * own tokens; branches at the same step advance in one batched decoder run; the limits are reported by
 * `GetModelInfo` and refused with RESOURCE_EXHAUSTED; a dropped branch's memory and every branch's at the
 * stream's end (or cancel) are released.
 */
import { status as Status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FinishReason, type DecodeResponse } from '../../../src/gen/stepwise/v1/stepwise.js';
import { loadModel } from '../../../src/runtime/index.js';
import { StepScheduler, type SchedulerRun } from '../../../src/runtime/step-scheduler.js';
import type { ModelRuntime } from '../../../src/runtime/types.js';
import { tinyModels } from '../../fixtures/models.js';
import { DecodeStream, unary, type DecisionInput, type StartInput } from '../../support/decode-client.js';
import { ACCEPT } from '../../support/lockstep.js';
import { argmax, expectRowsClose, runtimeStepLogits, tensorValues } from '../../support/runtime-reference.js';
import { startTestServer, type TestServer } from '../../support/test-server.js';

let server: TestServer;
let reference: ModelRuntime;
beforeAll(async () => {
  server = await startTestServer({ modelDir: tinyModels.reluTied });
  reference = await loadModel(tinyModels.reluTied);
});
afterAll(async () => {
  await server?.stop();
  await reference?.dispose();
});

const INPUT: StartInput['input'] = { $case: 'text', value: 'translate English to German: the green house' };
// EOS masked, so every branch decodes the full length.
const START = { input: INPUT, minNewTokens: 4, maxNewTokens: 4 } satisfies StartInput;

type Message = NonNullable<DecodeResponse['message']>;

const fork = (step: number, into: number, branch = 0): DecisionInput => ({ step, branch, action: { $case: 'fork', value: { branch: into } } });
const force = (step: number, tokenId: number, branch = 0): DecisionInput => ({ step, branch, action: { $case: 'forceToken', value: { tokenId } } });
const drop = (step: number, branch: number): DecisionInput => ({ step, branch, action: { $case: 'drop', value: {} } });

/** Reads messages until one of `kind` for `branch` (the ones passed over are returned too). */
async function until<K extends Message['$case']>(stream: DecodeStream, kind: K, branch: number, seen: Message[] = []) {
  for (;;) {
    const message = (await stream.next())?.message;
    if (message === undefined) throw new Error(`the stream ended before a ${kind} of branch ${branch}`);
    seen.push(message);
    if (message.$case === kind && (message.value as { branch?: number }).branch === branch) {
      return message.value as Extract<Message, { $case: K }>['value'];
    }
  }
}

describe('branches', () => {
  it("each branch's rows equal the runtime's for its tokens, and branches at one step share one decoder run", async () => {
    const runs: SchedulerRun[] = [];
    const scheduler = server.app.model as StepScheduler;
    expect(scheduler).toBeInstanceOf(StepScheduler);
    const unsubscribe = scheduler.onRun((run) => run.kind === 'decoder' && runs.push(run));
    const stream = DecodeStream.open(server.client);
    stream.start(START);
    const started = await stream.expect('started');
    const first = await until(stream, 'logits', 0);
    const row0 = tensorValues(first.raw);
    stream.decide(fork(0, 7));
    expect(await until(stream, 'forked', 7)).toEqual({ branch: 7, fromBranch: 0, step: 0 });
    const [best, other] = [argmax(row0), (argmax(row0) + 1) % row0.length];
    stream.decide(force(0, other, 7));
    stream.decide(force(0, best, 0));
    const seen: Message[] = [];
    const runsBefore = runs.length;
    const branch0 = tensorValues((await until(stream, 'logits', 0, seen)).raw);
    const branch7 = tensorValues((await until(stream, 'logits', 7, seen)).raw);
    // One decoder run of both branches (the only stream on this server).
    expect(runs.slice(runsBefore).map((run) => run.size)).toEqual([2]);
    const inputIds = started.inputIds;
    expectRowsClose(branch0, (await runtimeStepLogits(reference, inputIds, [best]))[1]!);
    expectRowsClose(branch7, (await runtimeStepLogits(reference, inputIds, [other]))[1]!);
    expect(server.app.model.liveStates).toBe(2);

    for (let step = 1; step < 4; step++) {
      stream.decide({ step, branch: 7, action: ACCEPT });
      stream.decide({ step, branch: 0, action: ACCEPT });
      if (step < 3) {
        await until(stream, 'logits', 0);
        await until(stream, 'logits', 7);
      }
    }
    const { messages, status } = await stream.drain();
    unsubscribe();
    expect(status.code).toBe(Status.OK);
    const ends = messages.flatMap((message) => (message.$case === 'finished' ? [message.value] : []));
    expect(ends.map((end) => end.branch).sort()).toEqual([0, 7]);
    for (const end of ends) {
      expect(end.reason).toBe(FinishReason.FINISH_REASON_MAX_NEW_TOKENS);
      expect(end.tokenIds[0]).toBe(end.branch === 0 ? best : other);
    }
    await server.settled(2_000);
  });

  it('GetModelInfo reports both limits', async () => {
    const info = await unary(server.client, 'getModelInfo', {});
    expect(info.limits).toMatchObject({ maxBranchesPerStream: 16, maxTotalBranches: 128 });
  });

  it('dropping a branch frees its state at once; the stream end and a cancel free the rest', async () => {
    const stream = DecodeStream.open(server.client);
    stream.start(START);
    await until(stream, 'logits', 0);
    stream.decide(fork(0, 1));
    stream.decide(fork(0, 2));
    await until(stream, 'forked', 2);
    expect(server.app.model.liveStates).toBe(3);
    stream.decide(drop(0, 1));
    await expect.poll(() => server.app.model.liveStates).toBe(2);
    stream.call.cancel();
    expect((await stream.status).code).toBe(Status.CANCELLED);
    await server.settled(2_000);
  });
});

describe('branch limits', () => {
  let limited: TestServer;
  beforeAll(async () => {
    limited = await startTestServer({ modelDir: tinyModels.reluTied, limits: { maxBranchesPerStream: 3, maxTotalBranches: 2 } });
  });
  afterAll(async () => {
    await limited?.stop();
  });

  async function forked(ids: number[]): Promise<DecodeStream> {
    const stream = DecodeStream.open(limited.client);
    stream.start(START);
    await until(stream, 'logits', 0);
    for (const id of ids) stream.decide(fork(0, id));
    return stream;
  }

  it('refuses a fork past max_branches_per_stream, and past max_total_branches across streams, naming the limit', async () => {
    const info = await unary(limited.client, 'getModelInfo', {});
    expect(info.limits).toMatchObject({ maxBranchesPerStream: 3, maxTotalBranches: 2 });

    const tooMany = await forked([1, 2, 3]);
    const perStream = await tooMany.drain();
    expect(perStream.status.code).toBe(Status.RESOURCE_EXHAUSTED);
    expect(perStream.status.details).toContain('`max_branches_per_stream` is 3');
    await limited.settled(2_000);

    const holder = await forked([1, 2]);
    await until(holder, 'forked', 2);
    const refused = await forked([1]);
    const total = await refused.drain();
    expect(total.status.code).toBe(Status.RESOURCE_EXHAUSTED);
    expect(total.status.details).toContain('`max_total_branches` is 2');
    // The holder's branches give their places back when it ends: a stop ends branch 0, a half-close the others.
    holder.stop();
    await until(holder, 'finished', 0);
    holder.call.end();
    const rest = await holder.drain();
    expect(rest.messages.map((message) => message.$case === 'finished' && message.value.branch)).toEqual([1, 2]);
    const after = await forked([1]);
    await until(after, 'forked', 1);
    after.call.cancel();
    await after.status;
    await limited.settled(2_000);
  });
});

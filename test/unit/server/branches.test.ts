/**
 * Branches of a decode stream, with the fake model (`fake-model.ts`) and client messages in memory: the
 * bookkeeping (`BranchSet`, `BranchBudget`: ids, limits, ends, drops, release), and the stream once forked
 * (`BranchedDecode`): every message labelled with its branch, branches at one position stepped in one
 * model call, rows equal to a fresh decode of each branch's history, stops, drops and refusals.
 */
import { PassThrough } from 'node:stream';
import { status as Status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { DecodeRequest, FinishReason, type StepDecision } from '../../../src/gen/stepwise/v1/stepwise.js';
import { BUILTIN_PROCESSORS, createTokenSelector, ProcessorRegistry, StreamScoring } from '../../../src/processors/index.js';
import { BranchBudget } from '../../../src/server/branch-budget.js';
import { BranchSet, type BranchLimits } from '../../../src/server/branch-set.js';
import { ClientMessages } from '../../../src/server/client-messages.js';
import { DecodeBranch } from '../../../src/server/decode-branch.js';
import type { DecodePlan } from '../../../src/server/decode-plan.js';
import { DecodeSession } from '../../../src/server/decode-session.js';
import { EventLoopTurns } from '../../../src/server/event-loop-turns.js';
import { IncrementalDetokenizer } from '../../../src/server/incremental-detokenizer.js';
import type { MalformedRequest } from '../../../src/server/service-definition.js';
import type { SessionMessage } from '../../../src/server/session-wire.js';
import { staticContext } from '../../../src/server/static-context.js';
import { ServerError } from '../../../src/server/status.js';
import { StopConditions } from '../../../src/server/stop-conditions.js';
import { TokenLedger } from '../../../src/server/token-ledger.js';
import { FAKE_EOS, FakeModel, rowAfter } from './fake-model.js';

const registry = new ProcessorRegistry(BUILTIN_PROCESSORS);
const INPUT = [5, 6, 7, FAKE_EOS];

function planOf(mode: 'lockstep' | 'auto', maxNewTokens: number): DecodePlan {
  return {
    inputIds: INPUT,
    decoderPrefix: [],
    maxNewTokens,
    eosIds: new Set([FAKE_EOS]),
    stop: new StopConditions([], []),
    stream: { rawLogits: { kind: 'float32' }, processedScores: false, topNAlternatives: 0, entropy: false },
    mode,
  };
}

function scoringFor(model: FakeModel, plan: DecodePlan): StreamScoring {
  return new StreamScoring({ registry, context: staticContext(model, plan), specs: [], fields: [], selector: createTokenSelector({ mode: 'greedy' }), report: plan.stream });
}

interface Harness {
  readonly model: FakeModel;
  readonly sent: SessionMessage[];
  tell(message: DecodeRequest['message']): void;
  close(): void;
  until(predicate: (message: SessionMessage) => boolean): Promise<SessionMessage>;
  readonly run: Promise<void>;
}

async function startSession(options: { mode?: 'lockstep' | 'auto'; maxNewTokens?: number; limits?: BranchLimits } = {}): Promise<Harness> {
  const model = new FakeModel();
  const plan = planOf(options.mode ?? 'lockstep', options.maxNewTokens ?? 4);
  const scoring = scoringFor(model, plan);
  const input = new PassThrough({ objectMode: true });
  const controller = new AbortController();
  const sent: SessionMessage[] = [];
  const waiters: Array<() => void> = [];
  const [encoded] = await model.encode([INPUT]);
  const session = new DecodeSession({
    model,
    plan,
    scoring,
    started: { pipeline: [], selection: { mode: 'greedy', seed: 0n }, defaultsFromModel: [] },
    encoded: encoded!,
    send: async (message) => {
      sent.push(message);
      waiters.splice(0).forEach((wake) => wake());
    },
    messages: new ClientMessages<DecodeRequest | MalformedRequest>(input, controller.signal),
    signal: controller.signal,
    startedAt: performance.now(),
    turns: new EventLoopTurns(),
    ...(options.limits !== undefined && { branchLimits: options.limits }),
  });
  const run = session.run().finally(() => session.dispose());
  run.catch(() => {});
  return {
    model,
    sent,
    run,
    tell: (message) => input.write(DecodeRequest.fromPartial({ message })),
    close: () => input.end(),
    async until(predicate) {
      for (let turn = 0; turn < 2000; turn++) {
        const found = sent.find(predicate);
        if (found !== undefined) return found;
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setImmediate(resolve);
        });
      }
      throw new Error(`no such message; sent: ${sent.map((message) => message.$case).join(', ')}`);
    },
  };
}

const decision = (value: Partial<StepDecision>): DecodeRequest['message'] => ({ $case: 'decision', value: value as StepDecision });
const force = (step: number, token: number, branch = 0) => decision({ step, branch, action: { $case: 'forceToken', value: { tokenId: token } }, pipelineChanges: [] });
const accept = (step: number, branch = 0) => decision({ step, branch, action: { $case: 'accept', value: {} }, pipelineChanges: [] });
const fork = (step: number, into: number, branch = 0) => decision({ step, branch, action: { $case: 'fork', value: { branch: into } }, pipelineChanges: [] });
const drop = (step: number, branch: number) => decision({ step, branch, action: { $case: 'drop', value: {} }, pipelineChanges: [] });
const isLogits = (step: number, branch = 0) => (message: SessionMessage) =>
  message.$case === 'logits' && message.value.step === step && message.value.branch === branch;
const isFinished = (branch: number) => (message: SessionMessage) => message.$case === 'finished' && message.value.branch === branch;
/** `kind:step@branch` of every message, `forked:child<parent@step` for forks. */
const labels = (sent: readonly SessionMessage[]) =>
  sent.map((message) => {
    switch (message.$case) {
      case 'logits':
      case 'token':
        return `${message.$case}:${message.value.step}@${message.value.branch}`;
      case 'forked':
        return `forked:${message.value.branch}<${message.value.fromBranch}@${message.value.step}`;
      case 'finished':
        return `finished@${message.value.branch}`;
      default:
        return message.$case;
    }
  });
const rowOf = (message: SessionMessage): Float32Array => {
  if (message.$case !== 'logits') throw new Error(`not logits: ${message.$case}`);
  const data = message.value.raw!.data;
  return new Float32Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
};

async function refusal(run: Promise<void>): Promise<ServerError> {
  const error = await run.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  if (!(error instanceof ServerError)) throw new Error(`expected a ServerError; got ${String(error)}`);
  return error;
}

describe('BranchSet and BranchBudget', () => {
  async function firstBranch(model: FakeModel): Promise<DecodeBranch> {
    const plan = planOf('lockstep', 8);
    const [encoded] = await model.encode([INPUT]);
    const parts = {
      state: model.createState(encoded!),
      ledger: new TokenLedger(8),
      detokenizer: new IncrementalDetokenizer(model.tokenizer),
      scoring: scoringFor(model, plan),
      stepMs: [],
      steering: false,
    };
    return new DecodeBranch(0, plan, model.info.vocabSize, parts);
  }

  it('forks copy the branch, under ids the client chose once; ending frees the state and the budget place', async () => {
    const model = new FakeModel();
    const budget = new BranchBudget(8);
    const first = await firstBranch(model);
    first.ledger.take(3);
    first.state.append(3);
    const set = new BranchSet(first, { perStream: 4, budget });
    const child = set.fork(first, 7);
    expect(child.state.tokens).toEqual(first.state.tokens);
    expect(child.ledger.ids).toEqual([3]);
    expect(set.ids()).toEqual([0, 7]);
    expect(budget.inUse).toBe(1);
    expect(model.liveStates).toBe(2);
    set.end(7);
    expect(model.liveStates).toBe(1);
    expect(budget.inUse).toBe(0);
    expect(() => set.fork(first, 7)).toThrow('`decision.fork.branch` must be an id not used before in this stream; given 7, already used');
    expect(() => set.fork(first, 0)).toThrow('`decision.fork.branch` must be in [1, 2147483647]; given 0');
    expect(() => set.get(7, 'decision.branch')).toThrow('`decision.branch` names branch 7, which has ended; live branches: 0');
    expect(() => set.get(9, 'stop.branch')).toThrow('`stop.branch` names branch 9, which does not exist; live branches: 0');
    expect(() => set.drop(0)).toThrow("`decision.drop` cannot end branch 0: it is the stream's last live branch; send `stop` instead");
    set.dispose();
    expect(model.liveStates).toBe(0);
  });

  it('refuses a fork past max_branches_per_stream, and past max_total_branches across streams, with RESOURCE_EXHAUSTED', async () => {
    const model = new FakeModel();
    const budget = new BranchBudget(3);
    const one = new BranchSet(await firstBranch(model), { perStream: 3, budget });
    const two = new BranchSet(await firstBranch(model), { perStream: 3, budget });
    const [a] = one.branches();
    one.fork(a!, 1);
    one.fork(a!, 2);
    const perStream = (() => {
      try {
        one.fork(a!, 3);
      } catch (error) {
        return error as ServerError;
      }
    })();
    expect(perStream?.code).toBe(Status.RESOURCE_EXHAUSTED);
    expect(perStream?.message).toContain('`max_branches_per_stream` is 3');
    const [b] = two.branches();
    two.fork(b!, 1);
    const total = (() => {
      try {
        two.fork(b!, 2);
      } catch (error) {
        return error as ServerError;
      }
    })();
    expect(total?.code).toBe(Status.RESOURCE_EXHAUSTED);
    expect(total?.message).toContain('`max_total_branches` is 3');
    expect(model.liveStates).toBe(5); // the refused forks copied nothing
    one.dispose();
    expect(budget.inUse).toBe(1);
    two.fork(b!, 2); // places given back by the other stream
    two.dispose();
    expect(budget.inUse).toBe(0);
    expect(model.liveStates).toBe(0);
  });
});

describe('a forked LOCKSTEP stream', () => {
  it('labels every message with its branch; branches at one position step in one model call, each row a fresh decode of its history', async () => {
    const harness = await startSession({ maxNewTokens: 3 });
    await harness.until(isLogits(0));
    harness.tell(force(0, 4));
    await harness.until(isLogits(1));
    harness.tell(fork(1, 5));
    await harness.until((message) => message.$case === 'forked');
    harness.tell(force(1, 6, 5));
    harness.tell(force(1, 9, 0));
    const runsBefore = harness.model.runs.length;
    const zero = await harness.until(isLogits(2, 0));
    const five = await harness.until(isLogits(2, 5));
    expect(harness.model.runs.slice(runsBefore)).toEqual([2]);
    expect([...rowOf(zero)]).toEqual([...rowAfter([0, 4, 9])]);
    expect([...rowOf(five)]).toEqual([...rowAfter([0, 4, 6])]);
    harness.tell(accept(2, 5));
    harness.tell(accept(2, 0));
    await harness.run;
    expect(labels(harness.sent)).toEqual([
      'started',
      'logits:0@0',
      'token:0@0',
      'logits:1@0',
      'forked:5<0@1',
      'token:1@5',
      'token:1@0',
      'logits:2@0', // stepped in id order
      'logits:2@5',
      'token:2@5',
      'finished@5',
      'token:2@0',
      'finished@0',
    ]);
    const ends = harness.sent.flatMap((message) => (message.$case === 'finished' ? [message.value] : []));
    expect(ends.map((end) => [end.branch, end.tokenIds, end.reason])).toEqual([
      [5, [4, 6, expect.any(Number)], FinishReason.FINISH_REASON_MAX_NEW_TOKENS],
      [0, [4, 9, expect.any(Number)], FinishReason.FINISH_REASON_MAX_NEW_TOKENS],
    ]);
    expect(harness.model.liveStates).toBe(0);
  });

  it('a forced run goes on without decisions on its branch, while the other branch waits for its own', async () => {
    const harness = await startSession({ maxNewTokens: 4 });
    await harness.until(isLogits(0));
    harness.tell(fork(0, 1));
    harness.tell(decision({ step: 0, branch: 1, action: { $case: 'forceTokens', value: { tokenIds: [3, 4, 5] } }, pipelineChanges: [] }));
    harness.tell(force(0, 7));
    await harness.until(isLogits(1, 1));
    harness.tell(accept(1, 0));
    await harness.until(isLogits(2, 0));
    expect(harness.sent.some(isLogits(2, 1))).toBe(true); // branch 1 stepped with branch 0, taking its forced token
    harness.tell(drop(2, 0));
    await harness.until(isLogits(3, 1)); // after its forced run, the branch awaits decisions again
    harness.tell(accept(3, 1));
    await harness.until(isFinished(1));
    await harness.run;
    const finished = harness.sent.find(isFinished(1));
    expect(finished?.$case === 'finished' && finished.value.tokenIds.slice(0, 3)).toEqual([3, 4, 5]);
    expect(harness.sent.some(isFinished(0))).toBe(false); // dropped: no Finished
    expect(harness.model.liveStates).toBe(0);
  });

  it('stop ends one branch with CLIENT_STOP; a half-close ends every live branch', async () => {
    const harness = await startSession({ maxNewTokens: 6 });
    await harness.until(isLogits(0));
    harness.tell(fork(0, 2));
    harness.tell(fork(0, 3));
    harness.tell({ $case: 'stop', value: { branch: 2 } });
    await harness.until(isFinished(2));
    expect(harness.model.liveStates).toBe(2);
    harness.close();
    await harness.run;
    const reasons = harness.sent.flatMap((message) => (message.$case === 'finished' ? [[message.value.branch, message.value.reason]] : []));
    expect(reasons).toEqual([
      [2, FinishReason.FINISH_REASON_CLIENT_STOP],
      [0, FinishReason.FINISH_REASON_CLIENT_STOP],
      [3, FinishReason.FINISH_REASON_CLIENT_STOP],
    ]);
    expect(harness.model.liveStates).toBe(0);
  });

  it('refuses a decision for a branch whose step is already decided, and one for an unknown branch', async () => {
    const decided = await startSession();
    await decided.until(isLogits(0));
    decided.tell(fork(0, 1));
    decided.tell(accept(0, 1));
    decided.tell(accept(1, 1));
    const error = await refusal(decided.run);
    expect(error.code).toBe(Status.FAILED_PRECONDITION);
    expect(error.message).toBe("`decision.branch` must name a branch awaiting a decision (0); given 1, whose step is decided until the others' are");
    expect(decided.model.liveStates).toBe(0);

    const unknown = await startSession();
    await unknown.until(isLogits(0));
    unknown.tell(fork(0, 1));
    unknown.tell(accept(0, 4));
    expect((await refusal(unknown.run)).message).toBe('`decision.branch` names branch 4, which does not exist; live branches: 0, 1');
  });

  it('refuses a fork past the stream limit with RESOURCE_EXHAUSTED and frees everything', async () => {
    const harness = await startSession({ limits: { perStream: 2, budget: new BranchBudget(10) } });
    await harness.until(isLogits(0));
    harness.tell(fork(0, 1));
    harness.tell(fork(0, 2));
    const error = await refusal(harness.run);
    expect(error.code).toBe(Status.RESOURCE_EXHAUSTED);
    expect(error.message).toContain('`max_branches_per_stream` is 2');
    expect(harness.model.liveStates).toBe(0);
  });
});

describe('before any fork', () => {
  it('a message naming another branch than 0 is refused', async () => {
    const harness = await startSession();
    await harness.until(isLogits(0));
    harness.tell(accept(0, 3));
    const error = await refusal(harness.run);
    expect(error.code).toBe(Status.FAILED_PRECONDITION);
    expect(error.message).toBe('`decision.branch` names branch 3, which does not exist; live branches: 0');
  });

  it('dropping the only branch is refused', async () => {
    const harness = await startSession();
    await harness.until(isLogits(0));
    harness.tell(drop(0, 0));
    expect((await refusal(harness.run)).message).toBe("`decision.drop` cannot end branch 0: it is the stream's last live branch; send `stop` instead");
  });

  it('AUTO mode refuses a fork', async () => {
    const harness = await startSession({ mode: 'auto', maxNewTokens: 50 });
    harness.tell(fork(0, 1));
    const error = await refusal(harness.run);
    expect(error.code).toBe(Status.FAILED_PRECONDITION);
    expect(error.message).toBe("`decision.fork` needs LOCKSTEP mode (branches advance on the client's decisions); this stream is AUTO");
  });
});

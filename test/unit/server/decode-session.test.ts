/**
 * The decode session's state machine, with a fake model (`fake-model.ts`) and client messages in memory:
 * every decision kind, forced runs, rewinds across them, stops, pipeline changes in both scopes, and the
 * refusals, as the messages a client would read.
 */
import { PassThrough } from 'node:stream';
import { status as Status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { DecodeRequest, FinishReason, PipelineScope, type StepDecision, TokenSource } from '../../../src/gen/stepwise/v1/stepwise.js';
import { BUILTIN_PROCESSORS, createTokenSelector, ProcessorRegistry, StreamScoring, type ProcessorSpec } from '../../../src/processors/index.js';
import { ClientMessages } from '../../../src/server/client-messages.js';
import type { DecodePlan } from '../../../src/server/decode-plan.js';
import { DecodeSession } from '../../../src/server/decode-session.js';
import { EventLoopTurns } from '../../../src/server/event-loop-turns.js';
import type { MalformedRequest } from '../../../src/server/service-definition.js';
import type { SessionMessage } from '../../../src/server/session-wire.js';
import { staticContext } from '../../../src/server/static-context.js';
import { ServerError } from '../../../src/server/status.js';
import { StopConditions } from '../../../src/server/stop-conditions.js';
import { FAKE_EOS, FakeModel, preferred } from './fake-model.js';

const registry = new ProcessorRegistry(BUILTIN_PROCESSORS);
const INPUT = [5, 6, 7, FAKE_EOS];

interface Harness {
  readonly model: FakeModel;
  readonly sent: SessionMessage[];
  /** Sends a client message (after `Start`). */
  tell(message: DecodeRequest['message']): void;
  /** Half-closes the client side. */
  close(): void;
  /** Resolves once the session sent a message matching `predicate` (at most ~2 s of event-loop turns). */
  until(predicate: (message: SessionMessage) => boolean): Promise<SessionMessage>;
  readonly run: Promise<void>;
}

interface Options {
  readonly mode?: 'lockstep' | 'auto';
  readonly maxNewTokens?: number;
  readonly processors?: readonly ProcessorSpec[];
  readonly stopSequences?: readonly (readonly number[])[];
  readonly messages?: boolean;
}

async function startSession(options: Options = {}): Promise<Harness> {
  const model = new FakeModel();
  const plan: DecodePlan = {
    inputIds: INPUT,
    decoderPrefix: [],
    maxNewTokens: options.maxNewTokens ?? 4,
    eosIds: new Set([FAKE_EOS]),
    stop: new StopConditions([], options.stopSequences ?? []),
    stream: { rawLogits: { kind: 'float32' }, processedScores: false, topNAlternatives: 2, entropy: true },
    mode: options.mode ?? 'lockstep',
  };
  const specs = options.processors ?? [];
  const scoring = new StreamScoring({
    registry,
    context: staticContext(model, plan),
    specs,
    fields: specs.map((_, i) => `processors[${i}]`),
    selector: createTokenSelector({ mode: 'greedy' }),
    report: plan.stream,
  });
  const input = new PassThrough({ objectMode: true });
  const controller = new AbortController();
  const sent: SessionMessage[] = [];
  const waiters: Array<() => void> = [];
  const [encoded] = await model.encode([INPUT]);
  const session = new DecodeSession({
    model,
    plan,
    scoring,
    started: { pipeline: scoring.pipeline(), selection: { mode: 'greedy', seed: 0n }, defaultsFromModel: [] },
    encoded: encoded!,
    send: async (message) => {
      sent.push(message);
      waiters.splice(0).forEach((wake) => wake());
    },
    messages: options.messages === false ? undefined : new ClientMessages<DecodeRequest | MalformedRequest>(input, controller.signal),
    signal: controller.signal,
    startedAt: performance.now(),
    turns: new EventLoopTurns(),
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
const accept = (step: number) => decision({ step, action: { $case: 'accept', value: {} }, pipelineChanges: [] });
const isLogits = (step: number) => (message: SessionMessage) => message.$case === 'logits' && message.value.step === step;
const tokens = (sent: readonly SessionMessage[]) => sent.flatMap((message) => (message.$case === 'token' ? [message.value] : []));
const kinds = (sent: readonly SessionMessage[]) =>
  sent.map((message) => (message.$case === 'logits' || message.$case === 'token' ? `${message.$case}:${message.value.step}` : message.$case));
const finished = (sent: readonly SessionMessage[]) => {
  const last = sent.at(-1);
  if (last?.$case !== 'finished') throw new Error(`the last message is ${last?.$case}, not finished`);
  return last.value;
};

async function refusal(run: Promise<void>): Promise<ServerError> {
  const error = await run.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  if (!(error instanceof ServerError)) throw new Error(`expected a ServerError; got ${String(error)}`);
  return error;
}

/** The greedy tokens of the fake model from the start, `count` of them. */
function greedyFrom(prompt: readonly number[], count: number): number[] {
  const history = [...prompt];
  for (let i = 0; i < count; i++) history.push(preferred(history));
  return history.slice(prompt.length);
}

describe('LOCKSTEP', () => {
  it('announces each step with its logits, waits for one decision, then streams the token', async () => {
    const harness = await startSession({ maxNewTokens: 3 });
    for (let step = 0; step < 3; step++) {
      await harness.until(isLogits(step));
      expect(tokens(harness.sent)).toHaveLength(step);
      harness.tell(accept(step));
    }
    await harness.run;
    expect(kinds(harness.sent)).toEqual(['started', 'logits:0', 'token:0', 'logits:1', 'token:1', 'logits:2', 'token:2', 'finished']);
    expect(tokens(harness.sent).map((token) => token.tokenId)).toEqual(greedyFrom([0], 3));
    expect(finished(harness.sent).reason).toBe(FinishReason.FINISH_REASON_MAX_NEW_TOKENS);
  });

  it('a forced run supplies the decisions of its own steps, and the next decision is read after it', async () => {
    const harness = await startSession({ maxNewTokens: 5 });
    await harness.until(isLogits(0));
    harness.tell(decision({ step: 0, action: { $case: 'forceTokens', value: { tokenIds: [9, 10, 11] } }, pipelineChanges: [] }));
    await harness.until(isLogits(3));
    expect(tokens(harness.sent).map((token) => [token.tokenId, token.source])).toEqual([
      [9, TokenSource.TOKEN_SOURCE_FORCED],
      [10, TokenSource.TOKEN_SOURCE_FORCED],
      [11, TokenSource.TOKEN_SOURCE_FORCED],
    ]);
    harness.tell(accept(3));
    await harness.until(isLogits(4));
    harness.tell(decision({ step: 4, action: { $case: 'forceToken', value: { tokenId: 12 } }, pipelineChanges: [] }));
    await harness.run;
    expect(finished(harness.sent).tokenIds).toEqual([9, 10, 11, greedyFrom([0, 9, 10, 11], 1)[0]!, 12]);
  });

  it('a rewind across a forced run streams the rewound step again with the same row', async () => {
    const harness = await startSession({ maxNewTokens: 6 });
    await harness.until(isLogits(0));
    harness.tell(decision({ step: 0, action: { $case: 'forceTokens', value: { tokenIds: [9, 10, 11] } }, pipelineChanges: [] }));
    await harness.until(isLogits(3));
    harness.tell(decision({ step: 3, action: { $case: 'rewind', value: { count: 2 } }, pipelineChanges: [] }));
    const again = (await harness.until((message) => message.$case === 'logits' && message.value.step === 1 && harness.sent.indexOf(message) > 5)) as Extract<SessionMessage, { $case: 'logits' }>;
    const first = harness.sent.find(isLogits(1)) as Extract<SessionMessage, { $case: 'logits' }>;
    expect(Buffer.from(again.value.raw!.data).equals(Buffer.from(first.value.raw!.data))).toBe(true);
    harness.tell(accept(1));
    await harness.until(isLogits(2));
    harness.tell(decision({ step: 2, action: { $case: 'accept', value: {} }, pipelineChanges: [] }));
    await harness.until((message) => message.$case === 'logits' && message.value.step === 3 && harness.sent.indexOf(message) > 10);
    harness.tell({ $case: 'stop', value: { branch: 0 } });
    await harness.run;
    expect(finished(harness.sent).tokenIds).toEqual([9, ...greedyFrom([0, 9], 2)]);
    expect(finished(harness.sent).reason).toBe(FinishReason.FINISH_REASON_CLIENT_STOP);
    // Every step of the forced run was computed; after the rewind the decoder saw the shorter history, as
    // if the rewound tokens had never been taken.
    expect(harness.model.steps.map((step) => step.history.length)).toEqual([1, 2, 3, 4, 2, 3, 4]);
    expect(harness.model.steps[4]!.history).toEqual([0, 9]);
  });

  it('a THIS_STEP change applies to one step only; a FROM_NOW_ON change to every later step', async () => {
    const harness = await startSession({ maxNewTokens: 3 });
    const firstChoice = preferred([0]);
    const ban = (ids: number[]) => ({ $case: 'add' as const, value: { processor: { name: 'ban_tokens', params: { token_ids: { kind: { $case: 'listValue' as const, value: { values: ids.map((id) => ({ kind: { $case: 'intValue' as const, value: BigInt(id) } })) } } } } }, index: undefined } });
    await harness.until(isLogits(0));
    harness.tell(decision({ step: 0, action: { $case: 'accept', value: {} }, pipelineChanges: [{ change: ban([firstChoice]), scope: PipelineScope.PIPELINE_SCOPE_THIS_STEP }] }));
    await harness.until(isLogits(1));
    const taken = tokens(harness.sent)[0]!.tokenId;
    expect(taken).not.toBe(firstChoice);
    const second = preferred([0, taken]);
    harness.tell(decision({ step: 1, action: { $case: 'accept', value: {} }, pipelineChanges: [{ change: ban([second]), scope: PipelineScope.PIPELINE_SCOPE_FROM_NOW_ON }] }));
    await harness.until(isLogits(2));
    expect(tokens(harness.sent)[1]!.tokenId).not.toBe(second);
    harness.tell(accept(2));
    await harness.run;
    const third = tokens(harness.sent)[2]!.tokenId;
    expect(third).not.toBe(second);
  });

  it('a decision for another step is FAILED_PRECONDITION naming the step awaited', async () => {
    const harness = await startSession();
    await harness.until(isLogits(0));
    harness.tell(accept(1));
    const error = await refusal(harness.run);
    expect(error.code).toBe(Status.FAILED_PRECONDITION);
    expect(error.message).toBe('`decision.step` must be 0 (the step awaiting a decision); given 1');
  });

  it('a rewind at step 0 says no token was generated yet', async () => {
    const harness = await startSession();
    await harness.until(isLogits(0));
    harness.tell(decision({ step: 0, action: { $case: 'rewind', value: { count: 1 } }, pipelineChanges: [] }));
    const error = await refusal(harness.run);
    expect(error.code).toBe(Status.OUT_OF_RANGE);
    expect(error.message).toBe('`decision.rewind` is not possible at step 0: no token was generated yet; given count 1');
  });

  it('a forced run longer than the tokens left is refused and changes nothing', async () => {
    const harness = await startSession({ maxNewTokens: 2 });
    await harness.until(isLogits(0));
    harness.tell(decision({ step: 0, action: { $case: 'forceTokens', value: { tokenIds: [3, 4, 5] } }, pipelineChanges: [] }));
    const error = await refusal(harness.run);
    expect(error.code).toBe(Status.INVALID_ARGUMENT);
    expect(error.message).toContain('must hold [1, 2] ids');
    expect(tokens(harness.sent)).toHaveLength(0);
  });

  it('a half-close while a step awaits its decision is the client stop', async () => {
    const harness = await startSession();
    await harness.until(isLogits(0));
    harness.close();
    await harness.run;
    expect(finished(harness.sent).reason).toBe(FinishReason.FINISH_REASON_CLIENT_STOP);
  });

  it('gives the model no guess after a forced decision; the next token of a forced run is the guess', async () => {
    const harness = await startSession({ maxNewTokens: 5 });
    await harness.until(isLogits(0));
    harness.tell(decision({ step: 0, action: { $case: 'forceTokens', value: { tokenIds: [9, 10] } }, pipelineChanges: [] }));
    await harness.until(isLogits(2));
    harness.tell(accept(2));
    await harness.until(isLogits(3));
    harness.tell({ $case: 'stop', value: { branch: 0 } });
    await harness.run;
    const hints = harness.model.steps.map((step) => step.hint);
    // Step 0: greedy, argmax guess. Step 1: the run's next token. Step 2: after a forced token, none.
    // Step 3: after an accept, the argmax guess again.
    expect(hints[0]).toEqual({ kind: 'argmax', unless: [FAKE_EOS] });
    expect(hints[1]).toEqual({ kind: 'token', token: 10 });
    expect(hints[2]).toBeUndefined();
    expect(hints[3]).toEqual({ kind: 'argmax', unless: [FAKE_EOS] });
  });
});

describe('AUTO', () => {
  it('decodes without waiting and ends at EOS when it is forced', async () => {
    const harness = await startSession({ mode: 'auto', maxNewTokens: 8 });
    await harness.until(isLogits(1));
    harness.tell(decision({ step: 1, action: { $case: 'forceToken', value: { tokenId: FAKE_EOS } }, pipelineChanges: [] }));
    await harness.run;
    const done = finished(harness.sent);
    expect(done.reason).toBe(FinishReason.FINISH_REASON_EOS);
    expect(done.tokenIds.at(-1)).toBe(FAKE_EOS);
    const applied = harness.sent.find((message) => message.$case === 'applied');
    expect(applied?.$case === 'applied' && applied.value.messageIndex).toBe(0);
  });

  it('says from which step each message applied, after that step’s logits', async () => {
    const harness = await startSession({ mode: 'auto', maxNewTokens: 40 });
    await harness.until(isLogits(2));
    harness.tell(decision({ step: 0, action: { $case: 'rewind', value: { count: 1 } }, pipelineChanges: [] }));
    const applied = await harness.until((message) => message.$case === 'applied');
    harness.tell({ $case: 'stop', value: { branch: 0 } });
    await harness.run;
    if (applied.$case !== 'applied') throw new Error('unreachable');
    const index = harness.sent.indexOf(applied);
    const before = harness.sent[index - 1]!;
    expect(before.$case).toBe('logits');
    const step = before.$case === 'logits' ? before.value.step : -1;
    expect(applied.value).toEqual({ messageIndex: 0, fromStep: step - 1 });
    expect(finished(harness.sent).reason).toBe(FinishReason.FINISH_REASON_CLIENT_STOP);
  });

  it('a stop in the middle of a forced run ends the stream at once', async () => {
    const harness = await startSession({ mode: 'auto', maxNewTokens: 40 });
    await harness.until(isLogits(0));
    harness.tell(decision({ step: 0, action: { $case: 'forceTokens', value: { tokenIds: Array.from({ length: 30 }, () => 9) } }, pipelineChanges: [] }));
    await harness.until((message) => message.$case === 'token' && message.value.tokenId === 9);
    harness.tell({ $case: 'stop', value: { branch: 0 } });
    await harness.run;
    const done = finished(harness.sent);
    expect(done.reason).toBe(FinishReason.FINISH_REASON_CLIENT_STOP);
    expect(done.tokenIds.length).toBeLessThan(30);
  });

  it('without client messages (Generate), runs to max_new_tokens; a stop sequence ends it earlier', async () => {
    const all = greedyFrom([0], 6);
    const harness = await startSession({ mode: 'auto', maxNewTokens: 6, messages: false, stopSequences: [all.slice(0, 2)] });
    await harness.run;
    expect(finished(harness.sent).tokenIds).toEqual(all.slice(0, 2));
    expect(finished(harness.sent).reason).toBe(FinishReason.FINISH_REASON_STOP_SEQUENCE);
    expect(harness.model.liveStates).toBe(0);
  });
});

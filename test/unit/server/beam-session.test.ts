/**
 * The beam search session and the states behind its beams, with the fake model (`fake-model.ts`): each step
 * is one decoder run over every live beam's state, each beam's row is the one after its own history, states
 * are forked where several beams continue one and disposed where none does, and the stream is exactly what
 * `BeamSearchScorer` decides from those rows.
 */
import { PassThrough } from 'node:stream';
import { status as Status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { DecodeRequest, FinishReason } from '../../../src/gen/stepwise/v1/stepwise.js';
import { BeamLogProbs, BeamSearchScorer, BUILTIN_PROCESSORS, logSoftmax, ProcessorRegistry } from '../../../src/processors/index.js';
import type { BeamPlan } from '../../../src/server/beam-request.js';
import { BeamSession } from '../../../src/server/beam-session.js';
import { BeamStates } from '../../../src/server/beam-states.js';
import { ClientMessages } from '../../../src/server/client-messages.js';
import type { DecodePlan } from '../../../src/server/decode-plan.js';
import type { MalformedRequest } from '../../../src/server/service-definition.js';
import type { SessionMessage } from '../../../src/server/session-wire.js';
import { staticContext } from '../../../src/server/static-context.js';
import { ServerError } from '../../../src/server/status.js';
import { StopConditions } from '../../../src/server/stop-conditions.js';
import { FAKE_EOS, FakeModel, rowAfter } from './fake-model.js';

const registry = new ProcessorRegistry(BUILTIN_PROCESSORS);
const INPUT = [5, 6, 7, FAKE_EOS];
const BEAMS: BeamPlan = { numBeams: 3, lengthPenalty: 1, earlyStopping: false, numReturnSequences: 2 };

function plan(maxNewTokens: number): DecodePlan {
  return {
    inputIds: INPUT,
    decoderPrefix: [],
    maxNewTokens,
    eosIds: new Set([FAKE_EOS]),
    stop: new StopConditions([], []),
    stream: { rawLogits: { kind: 'none' }, processedScores: false, topNAlternatives: 0, entropy: false },
    mode: 'auto',
    beams: BEAMS,
  };
}

async function runSession(maxNewTokens: number, clientMessages: DecodeRequest['message'][] = []) {
  const model = new FakeModel();
  const sessionPlan = plan(maxNewTokens);
  const input = new PassThrough({ objectMode: true });
  for (const message of clientMessages) input.write(DecodeRequest.fromPartial({ message }));
  const controller = new AbortController();
  const sent: SessionMessage[] = [];
  const [encoded] = await model.encode([INPUT]);
  const logProbs = BeamLogProbs.build({ registry, context: staticContext(model, sessionPlan), specs: [], fields: [] });
  const session = new BeamSession({
    model,
    plan: sessionPlan,
    beams: BEAMS,
    logProbs,
    started: { pipeline: [], selection: { mode: 'greedy', seed: 0n }, defaultsFromModel: [] },
    encoded: encoded!,
    fork: (state) => state.fork(),
    send: async (message) => {
      sent.push(message);
    },
    messages: new ClientMessages<DecodeRequest | MalformedRequest>(input, controller.signal),
    signal: controller.signal,
    startedAt: performance.now(),
  });
  const outcome = await session.run().then(
    () => undefined,
    (error: unknown) => error,
  );
  session.dispose();
  return { model, sent, outcome };
}

/** The search the scorer makes alone over the fake model's rows. */
function scorerAlone(maxNewTokens: number): BeamSearchScorer {
  const search = new BeamSearchScorer({ ...BEAMS, eosIds: new Set([FAKE_EOS]), maxNewTokens });
  for (let done = false; !done; ) {
    const rows = search.beams.map((beam) => {
      const out = new Float32Array(16);
      logSoftmax(rowAfter([0, ...beam.tokens]), out);
      return out;
    });
    done = search.step(rows).done;
  }
  return search;
}

describe('beam session', () => {
  it('streams what the scorer decides from each beam\'s own row, ending at max_new_tokens', async () => {
    const { sent, outcome } = await runSession(4);
    expect(outcome).toBeUndefined();
    expect(sent.map((message) => message.$case)).toEqual(['started', 'beamStep', 'beamStep', 'beamStep', 'beamStep', 'finished']);
    const finished = sent.at(-1)!;
    if (finished.$case !== 'finished') throw new Error('no finished');
    const alone = scorerAlone(4).result();
    expect(finished.value.sequences.map((sequence) => [sequence.tokenIds, sequence.score])).toEqual(alone.map((beam) => [beam.tokens, beam.score]));
    expect(finished.value.reason).toBe(FinishReason.FINISH_REASON_MAX_NEW_TOKENS);
  });

  it('runs the prompt once, then every live beam in one decoder run, each on its own history; frees every state', async () => {
    const { model, sent } = await runSession(4);
    expect(model.runs).toEqual([1, 3, 3, 3]);
    const steps = sent.flatMap((message) => (message.$case === 'beamStep' ? [message.value] : []));
    // The histories run at step t + 1 are the live beams reported at step t.
    const runHistories = model.steps.slice(1).map((step) => step.history.slice(1));
    expect(runHistories).toEqual(steps.slice(0, -1).flatMap((step) => step.beams.map((beam) => beam.tokenIds)));
    expect(model.liveStates).toBe(0);
  });

  it('a stop before a step returns the live beams scored where they are; a decision is refused', async () => {
    const stopped = await runSession(4, [{ $case: 'stop', value: { branch: 0 } }]);
    const last = stopped.sent.at(-1)!;
    expect(last.$case === 'finished' && last.value.reason).toBe(FinishReason.FINISH_REASON_CLIENT_STOP);
    // Stopped before the first step: no beam has a token yet, so none is returned.
    expect(last.$case === 'finished' && last.value.sequences).toEqual([]);

    const refused = await runSession(4, [{ $case: 'decision', value: { step: 0, action: { $case: 'accept', value: {} }, pipelineChanges: [], branch: 0 } }]);
    expect(refused.outcome).toBeInstanceOf(ServerError);
    expect((refused.outcome as ServerError).code).toBe(Status.FAILED_PRECONDITION);
    expect(refused.model.liveStates).toBe(0);
  });
});

describe('beam states', () => {
  it('forks a state continued by several beams, keeps it for the last, and disposes a state no beam continues', async () => {
    const model = new FakeModel();
    const [encoded] = await model.encode([INPUT]);
    const states = new BeamStates(model.createState(encoded!), 3, (state) => state.fork());
    expect(states.distinct.length).toBe(1);
    expect(states.rowOf).toEqual([0, 0, 0]);
    states.advance([
      { source: 0, token: 4 },
      { source: 1, token: 5 },
      { source: 2, token: 6 },
    ]);
    expect(states.distinct.map((state) => state.tokens)).toEqual([
      [0, 4],
      [0, 5],
      [0, 6],
    ]);
    expect(model.liveStates).toBe(3);
    // Beam 1 continued twice, beam 2 dropped.
    states.advance([
      { source: 1, token: 7 },
      { source: 0, token: 8 },
      { source: 1, token: 9 },
    ]);
    expect(states.distinct.map((state) => state.tokens)).toEqual([
      [0, 5, 7],
      [0, 4, 8],
      [0, 5, 9],
    ]);
    expect(model.liveStates).toBe(3);
    states.dispose();
    states.dispose();
    expect(model.liveStates).toBe(0);
  });
});

/**
 * The TypeScript client library against a live server: events and zero-copy logits, every decision,
 * the lockstep helper, auto mode, unary calls, errors, deadlines and cancellation (streams freed at once).
 */
import { status } from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  StepwiseCallError,
  StepwiseClient,
  TokenSource,
  FinishReason,
  accept,
  addProcessor,
  force,
  logSumExp,
  reconfigure,
  rewind,
  topKIds,
  type DecodeEvent,
  type DecodeStart,
  type DecodedStep,
  type StepEvent,
} from '../../../clients/ts/index.js';
import { tinyModels } from '../../fixtures/models.js';
import { startTestServer, type TestServer } from '../../support/test-server.js';

const TEXT = 'translate English to German: The house is wonderful.';
const STEPS = 6;
const greedyStart: DecodeStart = { text: TEXT, maxNewTokens: STEPS, selection: 'greedy' };

let server: TestServer;
let client: StepwiseClient;
/** The plain greedy decode every other decode is compared with. */
let greedy: DecodedStep[];

beforeAll(async () => {
  server = await startTestServer({ modelDir: tinyModels.reluTied });
  client = new StepwiseClient(server.address);
  greedy = await collect(client.decode(greedyStart));
});
afterEach(async () => {
  // Whatever way a decode ended (finished, abandoned, aborted, failed), the server holds nothing.
  await server.settled();
});
afterAll(async () => {
  client?.close();
  await server?.stop();
});

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

function argmax(row: Float32Array): number {
  return topKIds(row, 1)[0]!;
}

describe('decode session', () => {
  it('streams started, then logits and token for every step, then finished', async () => {
    const session = client.openDecode(greedyStart);
    const kinds: string[] = [];
    for await (const event of session) {
      kinds.push(event.kind);
      if (event.kind === 'step' && event.awaitsDecision) session.accept(event.step);
    }
    expect(kinds).toEqual(['started', ...Array.from({ length: STEPS }, () => ['step', 'token']).flat(), 'finished']);
    expect(session.finished?.reason).toBe(FinishReason.FINISH_REASON_MAX_NEW_TOKENS);
    expect(session.finished?.tokenIds).toEqual(greedy.map((step) => step.token.tokenId));
  });

  it('gives each step its raw logits as a Float32Array view over the received bytes', async () => {
    const session = client.openDecode({ ...greedyStart, maxNewTokens: 1 });
    let step: StepEvent | undefined;
    for await (const event of session) {
      if (event.kind === 'step') {
        step = event;
        session.accept(event.step);
      }
    }
    const raw = step!.message.raw!;
    expect(step!.logits).toBeInstanceOf(Float32Array);
    expect(step!.logits!.length).toBe(session.started!.vocabSize);
    expect(step!.logits!.buffer).toBe(raw.data.buffer);
    expect(step!.logits!.byteOffset).toBe(raw.data.byteOffset);
  });

  it('agrees with the server on the raw log-probability of every greedy token, the raw argmax', async () => {
    for (const { logits, token } of greedy) {
      expect(token.tokenId).toBe(argmax(logits!));
      expect(token.rawLogprob).toBeCloseTo(logits![token.tokenId]! - logSumExp(logits!), 5);
      expect(token.source).toBe(TokenSource.TOKEN_SOURCE_SELECTED);
    }
  });

  it('cancels the stream when the loop is left before the end', async () => {
    const session = client.openDecode(greedyStart);
    for await (const event of session) {
      if (event.kind === 'step') break; // never answers: the client must not leave the server waiting
    }
    await server.settled();
    expect(server.app.server.openStreams).toBe(0);
  });
});

describe('decisions', () => {
  it('a forced token is taken at its step and changes the continuation', async () => {
    const other = topKIds(greedy[1]!.logits!, 2)[1]!;
    const steps = await collect(client.decode(greedyStart, (step) => (step.step === 1 ? force(other) : accept())));
    expect(steps[1]!.token.tokenId).toBe(other);
    expect(steps[1]!.token.source).toBe(TokenSource.TOKEN_SOURCE_FORCED);
    expect([...steps[1]!.logits!]).toEqual([...greedy[1]!.logits!]);
    expect([...steps[2]!.logits!]).not.toEqual([...greedy[2]!.logits!]);
  });

  it('a forced run is answered once and streamed step by step', async () => {
    const run = [greedy[3]!.token.tokenId, greedy[4]!.token.tokenId, greedy[0]!.token.tokenId];
    const answered: number[] = [];
    const steps = await collect(
      client.decode({ ...greedyStart, maxNewTokens: 4 }, (step) => {
        answered.push(step.step);
        return step.step === 0 ? force(run) : accept();
      }),
    );
    expect(steps.map((step) => step.token.tokenId).slice(0, 3)).toEqual(run);
    expect(answered).toEqual([0, 3]);
  });

  it('a rewind streams the rewound step again with the same logits and the decode resumes as before', async () => {
    const seen: Array<[number, Float32Array]> = [];
    const decode = client.decode(greedyStart, (step) => {
      seen.push([step.step, step.logits!.slice()]);
      return step.step === 3 && seen.length === 4 ? rewind(2) : accept();
    });
    const { finished } = await decode.result();
    expect(seen.map(([step]) => step).slice(0, 6)).toEqual([0, 1, 2, 3, 1, 2]);
    expect([...seen[4]![1]]).toEqual([...seen[1]![1]]);
    expect(finished.tokenIds).toEqual(greedy.map((step) => step.token.tokenId));
  });

  it('reconfigure changes the pipeline before the selection: banning the greedy token selects the runner-up', async () => {
    const [best, runnerUp] = topKIds(greedy[0]!.logits!, 2);
    const ban = addProcessor({ name: 'ban_tokens', params: { token_ids: [best!] } }, { scope: 'this-step' });
    const steps = await collect(
      client.decode({ ...greedyStart, maxNewTokens: 2 }, (step) => (step.step === 0 ? reconfigure([ban]) : accept())),
    );
    expect(steps[0]!.token.tokenId).toBe(runnerUp);
  });

  it('stop ends the decode with CLIENT_STOP and the tokens so far', async () => {
    const session = client.openDecode(greedyStart);
    for await (const event of session) {
      if (event.kind === 'step' && event.awaitsDecision) {
        if (event.step === 2) session.stop();
        else session.accept(event.step);
      }
    }
    expect(session.finished?.reason).toBe(FinishReason.FINISH_REASON_CLIENT_STOP);
    expect(session.finished?.tokenIds).toEqual(greedy.slice(0, 2).map((step) => step.token.tokenId));
  });
});

describe('deadlines and cancellation', () => {
  it('an aborted signal rejects the iteration with its reason and frees the stream', async () => {
    const controller = new AbortController();
    const reason = new Error('user gave up');
    const session = client.openDecode(greedyStart, { signal: controller.signal });
    const consume = async (): Promise<void> => {
      for await (const event of session) if (event.kind === 'step') controller.abort(reason);
    };
    await expect(consume()).rejects.toBe(reason);
    await server.settled();
  });

  it('a deadline ends a decode whose client does not answer with DEADLINE_EXCEEDED', async () => {
    const session = client.openDecode(greedyStart, { deadline: Date.now() + 300 });
    const consume = async (): Promise<DecodeEvent[]> => collect(session);
    const error = await consume().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(StepwiseCallError);
    expect((error as StepwiseCallError).code).toBe(status.DEADLINE_EXCEEDED);
  });

  it('an already aborted signal fails a unary call without waiting', async () => {
    const reason = new Error('not wanted');
    await expect(client.getModelInfo({ signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
  });
});

describe('other calls', () => {
  it('generate streams the tokens and logits of the lockstep greedy decode without decisions', async () => {
    const events = await collect(client.generate(greedyStart));
    const tokens = events.flatMap((event) => (event.kind === 'token' ? [event.token.tokenId] : []));
    expect(tokens).toEqual(greedy.map((step) => step.token.tokenId));
    const first = events.find((event): event is StepEvent => event.kind === 'step')!;
    expect(first.awaitsDecision).toBe(false);
    expect([...first.logits!]).toEqual([...greedy[0]!.logits!]);
  });

  it('generate with beam search streams a beam-step event per step and the returned sequences', async () => {
    const events = await collect(client.generate({ inputIds: [13, 7, 42, 5, 1], maxNewTokens: 5, beamSearch: { numBeams: 3, numReturnSequences: 2 } }));
    expect(events.map((event) => event.kind)).toEqual(['started', 'beam-step', 'beam-step', 'beam-step', 'beam-step', 'beam-step', 'finished']);
    const first = events[1]!;
    expect(first.kind === 'beam-step' && first.beamStep.beams.length).toBe(3);
    const finished = events.at(-1)!;
    expect(finished.kind === 'finished' && finished.finished.sequences.length).toBe(2);
  });

  it('model info, processors, tokenize and detokenize answer for the served model', async () => {
    const info = await client.getModelInfo();
    expect(info.vocabSize).toBe(greedy[0]!.logits!.length);
    const processors = await client.listProcessors();
    expect(processors.map((processor) => processor.name)).toContain('ban_tokens');
    const { tokenIds } = await client.tokenize('The house', false);
    expect(await client.detokenize(tokenIds, true)).toBe('The house');
  });

  it('an out-of-range parameter fails with INVALID_ARGUMENT and the server message naming it', async () => {
    const decode = client.decode({ text: TEXT, generationConfig: { topP: 1.5 }, selection: { sample: { seed: 1 } } });
    const error = await decode.result().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(StepwiseCallError);
    expect((error as StepwiseCallError).code).toBe(status.INVALID_ARGUMENT);
    expect((error as StepwiseCallError).message).toMatch(/top_p.*1\.5/);
  });
});

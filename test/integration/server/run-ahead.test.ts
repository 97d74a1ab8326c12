/**
 * What a stream tells the model thread about its next token, seen from the thread's run-ahead counts: a
 * greedy AUTO stream has every step but its last run ahead (none after a row whose greedy token would end
 * the stream) and takes every one; sampling, a processor that can move the maximum, or stop strings run
 * nothing ahead. Whatever runs ahead, the stream's logits and tokens are the runtime's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { DecodeMode, SelectionMode, type StepLogits } from '../../../src/gen/stepwise/v1/stepwise.js';
import { loadModel, type ModelRuntime } from '../../../src/runtime/index.js';
import { StepScheduler } from '../../../src/runtime/step-scheduler.js';
import { WorkerModel, type RunAheadStats } from '../../../src/runtime/worker/index.js';
import { tinyModels } from '../../fixtures/models.js';
import { DecodeStream, type StartInput } from '../../support/decode-client.js';
import { argmax, expectRowsClose, runtimeStepLogits, tensorValues } from '../../support/runtime-reference.js';
import { startTestServer, type TestServer } from '../../support/test-server.js';
import { processor } from '../../support/wire-params.js';

let server: TestServer;
let thread: WorkerModel;
let reference: ModelRuntime;
beforeAll(async () => {
  server = await startTestServer({ modelDir: tinyModels.reluTied });
  const inner = server.app.model instanceof StepScheduler ? server.app.model.inner : server.app.model;
  if (!(inner instanceof WorkerModel)) throw new Error('the test server runs its model on a worker thread');
  thread = inner;
  reference = await loadModel(tinyModels.reluTied);
});
afterAll(async () => {
  await server?.stop();
  await reference?.dispose();
});

const TOKENS = 12;
const GREEDY_FULL_LENGTH = {
  input: { $case: 'text', value: 'translate English to German: the green house' },
  minNewTokens: TOKENS,
  maxNewTokens: TOKENS,
  mode: DecodeMode.DECODE_MODE_AUTO,
} satisfies StartInput;

/** Runs an AUTO stream to its end; returns its raw rows, its tokens, and the thread's counts it added. */
async function autoStream(start: StartInput): Promise<{ rows: Float32Array[]; tokens: number[]; counts: RunAheadStats }> {
  const before = await thread.threadRunAhead();
  const stream = DecodeStream.open(server.client);
  stream.start(start);
  const { messages, status } = await stream.drain();
  stream.call.end();
  expect(status.code).toBe(0);
  const after = await thread.threadRunAhead();
  const logits = messages.flatMap((message) => (message.$case === 'logits' ? [message.value as StepLogits] : []));
  const finished = messages.find((message) => message.$case === 'finished');
  return {
    rows: logits.map((step) => tensorValues(step.raw)),
    tokens: finished?.$case === 'finished' ? finished.value.tokenIds : [],
    counts: { guessed: after.guessed - before.guessed, hits: after.hits - before.hits },
  };
}

describe('run-ahead from a stream', () => {
  it('a greedy AUTO stream runs every step ahead but after its last row and after rows whose greedy token is EOS', async () => {
    const { rows, tokens, counts } = await autoStream(GREEDY_FULL_LENGTH);
    expect(tokens).toHaveLength(TOKENS);
    const eos = reference.info.specialIds.eos;
    // Row k's hint is the greedy token unless it is EOS (min_new_tokens lowers it; it would end the stream).
    const expected = rows.slice(0, -1).filter((row) => argmax(row) !== eos).length;
    expect(counts).toEqual({ guessed: expected, hits: expected });
    expect(expected).toBeGreaterThan(0);
    // The rows and tokens are the runtime's own, run ahead or not.
    const runtime = await runtimeStepLogits(reference, reference.tokenizer.encode(GREEDY_FULL_LENGTH.input.value), tokens);
    rows.forEach((row, step) => expectRowsClose(row, runtime[step]!));
  });

  it('sampling, a processor that can move the maximum, or stop strings run nothing ahead', async () => {
    const sampled = await autoStream({ ...GREEDY_FULL_LENGTH, selection: { mode: SelectionMode.SELECTION_MODE_SAMPLE, seed: 7n } });
    expect(sampled.counts).toEqual({ guessed: 0, hits: 0 });
    const penalised = await autoStream({
      ...GREEDY_FULL_LENGTH,
      processors: [processor('repetition_penalty', { repetition_penalty: 1.5 })],
    });
    expect(penalised.counts).toEqual({ guessed: 0, hits: 0 });
    const stopping = await autoStream({ ...GREEDY_FULL_LENGTH, stopStrings: ['never in this text'] });
    expect(stopping.counts).toEqual({ guessed: 0, hits: 0 });
  });

  it('processors that only lower listed ids keep the guess: a suppressed greedy token is never guessed', async () => {
    const plain = await autoStream(GREEDY_FULL_LENGTH);
    // Suppressing the first greedy token moves the stream off it; rows whose greedy token is suppressed
    // (or EOS) are not run ahead, every other one is, and every guess is taken.
    const suppressed = plain.tokens[0]!;
    const { rows, tokens, counts } = await autoStream({
      ...GREEDY_FULL_LENGTH,
      processors: [processor('suppress_tokens', { suppress_tokens: [suppressed] })],
    });
    expect(tokens).not.toContain(suppressed);
    const eos = reference.info.specialIds.eos;
    const expected = rows.slice(0, -1).filter((row) => ![eos, suppressed].includes(argmax(row))).length;
    expect(counts).toEqual({ guessed: expected, hits: expected });
  });

  it('a server with run-ahead off streams the same bytes and tokens, and its thread runs nothing ahead', async () => {
    const withRunAhead = await autoStream(GREEDY_FULL_LENGTH);
    const off = await startTestServer({ modelDir: tinyModels.reluTied, load: { runAhead: false } });
    try {
      const offThread = (off.app.model as StepScheduler).inner as WorkerModel;
      const stream = DecodeStream.open(off.client);
      stream.start(GREEDY_FULL_LENGTH);
      const { messages } = await stream.drain();
      stream.call.end();
      const rows = messages.flatMap((message) => (message.$case === 'logits' ? [tensorValues(message.value.raw)] : []));
      const finished = messages.find((message) => message.$case === 'finished');
      expect(finished?.$case === 'finished' && finished.value.tokenIds).toEqual(withRunAhead.tokens);
      expect(rows).toEqual(withRunAhead.rows);
      expect(await offThread.threadRunAhead()).toEqual({ guessed: 0, hits: 0 });
    } finally {
      await off.stop();
    }
  });
});

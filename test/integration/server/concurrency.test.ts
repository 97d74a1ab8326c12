/**
 * Concurrent streams share the model (their steps are batched) but not their results: every stream of a
 * concurrent run equals the same request run alone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DecodeMode, type DecodeResponse } from '../../../src/gen/stepwise/v1/stepwise.js';
import { tinyModels } from '../../fixtures/models.js';
import { DecodeStream, generateAll, type StartInput } from '../../support/decode-client.js';
import { ACCEPT, rawRows, runLockstep } from '../../support/lockstep.js';
import { expectRowsClose, tensorValues } from '../../support/runtime-reference.js';
import { startTestServer, type TestServer } from '../../support/test-server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ modelDir: tinyModels.reluUntied });
});
afterAll(async () => server?.stop());

const WORDS = ['house', 'green', 'cat', 'translate', 'mat', 'small', 'the', 'sat', 'summarize', 'on'];

/** Request i: its own input (of its own length), its own limit; the three kinds of stream take turns. */
function request(i: number): { kind: 'lockstep' | 'auto' | 'generate'; start: StartInput } {
  const text = Array.from({ length: 2 + (i % 5) }, (_, k) => WORDS[(i * 3 + k) % WORDS.length]).join(' ');
  const kind = (['lockstep', 'auto', 'generate'] as const)[i % 3]!;
  return {
    kind,
    start: {
      input: { $case: 'text', value: text },
      maxNewTokens: 6 + (i % 4),
      mode: kind === 'auto' ? DecodeMode.DECODE_MODE_AUTO : DecodeMode.DECODE_MODE_UNSPECIFIED,
    },
  };
}

interface Outcome {
  readonly tokens: number[];
  readonly rows: Float32Array[];
}

async function run(i: number): Promise<Outcome> {
  const { kind, start } = request(i);
  const client = server.newClient();
  if (kind === 'lockstep') {
    const stream = DecodeStream.open(client);
    stream.start(start);
    const transcript = await runLockstep(stream, (logits) => ({ step: logits.step, action: ACCEPT }));
    expect(transcript.status.code).toBe(0);
    return { tokens: transcript.finished!.tokenIds, rows: rawRows(transcript.logits) };
  }
  let messages: NonNullable<DecodeResponse['message']>[];
  if (kind === 'auto') {
    const stream = DecodeStream.open(client);
    stream.start(start);
    const drained = await stream.drain();
    stream.call.end();
    expect(drained.status.code).toBe(0);
    messages = drained.messages;
  } else {
    const generated = await generateAll(client, start);
    expect(generated.status.code).toBe(0);
    messages = generated.messages;
  }
  const finished = messages.at(-1);
  if (finished?.$case !== 'finished') throw new Error(`stream ${i} did not finish`);
  return {
    tokens: finished.value.tokenIds,
    rows: messages.flatMap((m) => (m.$case === 'logits' ? [tensorValues(m.value.raw)] : [])),
  };
}

describe.each([2, 16])('%i concurrent streams', (count) => {
  it('each stream equals the same request decoded alone', async () => {
    const isolated: Outcome[] = [];
    for (let i = 0; i < count; i++) isolated.push(await run(i));
    const concurrent = await Promise.all(Array.from({ length: count }, (_, i) => run(i)));
    concurrent.forEach((outcome, i) => {
      expect(outcome.tokens).toEqual(isolated[i]!.tokens);
      expect(outcome.rows).toHaveLength(isolated[i]!.rows.length);
      // Batched runs pad shorter inputs and share matrix products: equal up to float rounding.
      outcome.rows.forEach((row, step) => expectRowsClose(row, isolated[i]!.rows[step]!));
    });
    await server.settled();
  });
});

/**
 * Raw means raw: the logits streamed for a step are the model's output for that position, before any
 * processor, bit for bit, in every wire format.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataType, LogitsFormat, type StepLogits } from '../../../src/gen/stepwise/v1/stepwise.js';
import { loadModel } from '../../../src/runtime/index.js';
import type { ModelRuntime } from '../../../src/runtime/types.js';
import { float16BitsOfFloat32Bits as float32BitsToFloat16 } from '../../../src/numeric/index.js';
import { tinyModels } from '../../fixtures/models.js';
import { DecodeStream, type StartInput } from '../../support/decode-client.js';
import { rowBytes, runtimeStepLogits } from '../../support/runtime-reference.js';
import { startTestServer, type TestServer } from '../../support/test-server.js';

const accept = { $case: 'accept', value: {} } as const;

/** Decodes `steps` steps in lockstep, accepting each; returns the streamed logits and the tokens. */
async function lockstepAccepting(server: TestServer, start: StartInput, steps: number) {
  const stream = DecodeStream.open(server.client);
  stream.start({ ...start, maxNewTokens: steps, stopTokenSequences: [] });
  const started = await stream.expect('started');
  const logits: StepLogits[] = [];
  const tokens: number[] = [];
  for (let step = 0; step < steps; step++) {
    logits.push(await stream.expect('logits'));
    stream.decide({ step, action: accept });
    const token = await stream.expect('token');
    tokens.push(token.tokenId);
    if (started.specialIds?.eosTokenId === token.tokenId) break;
  }
  await stream.expect('finished');
  stream.call.end();
  expect((await stream.status).code).toBe(0);
  return { started, logits, tokens };
}

describe.each([
  { label: 'tokenizer as wide as the logits', dir: tinyModels.reluTied },
  { label: 'logits wider than the tokenizer', dir: tinyModels.padded },
])('raw logits ($label)', ({ dir }) => {
  let server: TestServer;
  let reference: ModelRuntime;
  beforeAll(async () => {
    server = await startTestServer({ modelDir: dir });
    reference = await loadModel(dir);
  });
  afterAll(async () => {
    await server?.stop();
    await reference?.dispose();
  });

  it('each step streams the runtime logits of the same sequence, bit for bit, vocab_size wide', async () => {
    const { started, logits, tokens } = await lockstepAccepting(
      server,
      { input: { $case: 'text', value: 'translate English to German: the house is small' } },
      8,
    );
    expect(started.vocabSize).toBe(reference.info.vocabSize);
    const expected = await runtimeStepLogits(reference, started.inputIds, tokens);
    logits.forEach((message, step) => {
      expect(message.step).toBe(step);
      expect(message.raw?.dtype).toBe(DataType.DATA_TYPE_FLOAT32);
      expect(message.raw?.shape).toEqual([reference.info.vocabSize]);
      expect(Buffer.compare(message.raw!.data, rowBytes(expected[step]!))).toBe(0);
    });
  });

  it('FLOAT16 sends every raw logit rounded to the nearest half', async () => {
    const { started, logits, tokens } = await lockstepAccepting(
      server,
      { input: { $case: 'tokenIds', value: { ids: [5, 17, 42, 1] } }, stream: { rawLogits: LogitsFormat.LOGITS_FORMAT_FLOAT16 } },
      4,
    );
    const expected = await runtimeStepLogits(reference, started.inputIds, tokens);
    logits.forEach((message, step) => {
      expect(message.raw?.dtype).toBe(DataType.DATA_TYPE_FLOAT16);
      const halves = new Uint16Array(Uint8Array.from(message.raw!.data).buffer);
      const bits = new Uint32Array(expected[step]!.buffer);
      expect(Array.from(halves)).toEqual(Array.from(bits, float32BitsToFloat16));
    });
  });

  it('TOP_K sends the k highest raw logits with their ids, highest first', async () => {
    const k = 7;
    const { started, logits, tokens } = await lockstepAccepting(
      server,
      {
        input: { $case: 'text', value: 'a small cat' },
        stream: { rawLogits: LogitsFormat.LOGITS_FORMAT_TOP_K, rawTopK: k },
      },
      4,
    );
    const expected = await runtimeStepLogits(reference, started.inputIds, tokens);
    logits.forEach((message, step) => {
      const row = expected[step]!;
      const top = Array.from(row.keys())
        .sort((a, b) => row[b]! - row[a]! || a - b)
        .slice(0, k);
      expect(message.raw).toBeUndefined();
      expect(message.top?.tokenIds).toEqual(top);
      expect(message.top?.logits).toEqual(top.map((id) => row[id]!));
    });
  });

  it('NONE still announces every LOCKSTEP step, without logits', async () => {
    const { logits } = await lockstepAccepting(
      server,
      { input: { $case: 'text', value: 'a small cat' }, stream: { rawLogits: LogitsFormat.LOGITS_FORMAT_NONE } },
      3,
    );
    expect(logits.map((message) => message.step)).toEqual(logits.map((_, step) => step));
    for (const message of logits) {
      expect(message.raw).toBeUndefined();
      expect(message.top).toBeUndefined();
    }
  });
});

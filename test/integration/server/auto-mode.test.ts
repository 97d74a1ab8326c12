/**
 * AUTO decoding (`Decode` in AUTO mode, and `Generate`): the same tokens and logits as LOCKSTEP with
 * every step accepted; client messages take effect from the next step not yet computed, as `Applied` says.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DecodeMode,
  FinishReason,
  TokenSource,
  type StepLogits,
  type TokenChosen,
} from '../../../src/gen/stepwise/v1/stepwise.js';
import { tinyModels } from '../../fixtures/models.js';
import { DecodeStream, generateAll, type StartInput } from '../../support/decode-client.js';
import { ACCEPT, runLockstep } from '../../support/lockstep.js';
import { startTestServer, type TestServer } from '../../support/test-server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ modelDir: tinyModels.gatedUntied });
});
afterAll(async () => server?.stop());

const START: StartInput = {
  input: { $case: 'text', value: 'summarize: the cat sat on the mat and looked at the house' },
  maxNewTokens: 16,
  stream: { topNAlternatives: 3, entropy: true },
};

async function autoDecode(start: StartInput) {
  const stream = DecodeStream.open(server.client);
  stream.start({ ...start, mode: DecodeMode.DECODE_MODE_AUTO });
  const { messages, status } = await stream.drain();
  stream.call.end();
  return { messages, status };
}

describe('auto mode', () => {
  it('decodes the same tokens and streams the same logits as lockstep accepting every step', async () => {
    const stream = DecodeStream.open(server.client);
    stream.start(START);
    const lockstep = await runLockstep(stream, (logits) => ({ step: logits.step, action: ACCEPT }));
    const auto = await autoDecode(START);

    expect(auto.status.code).toBe(0);
    const autoLogits = auto.messages.flatMap((m) => (m.$case === 'logits' ? [m.value] : []));
    const autoTokens = auto.messages.flatMap((m) => (m.$case === 'token' ? [m.value] : []));
    expect(autoTokens).toEqual(lockstep.tokens);
    expect(autoLogits.map((l: StepLogits) => l.raw?.data)).toEqual(lockstep.logits.map((l) => l.raw?.data));
    // Every step's messages, in order: StepLogits(t), then TokenChosen(t), labelled with the same step.
    const steps = auto.messages.flatMap((m) => (m.$case === 'logits' || m.$case === 'token' ? [`${m.$case} ${m.value.step}`] : []));
    expect(steps).toEqual(autoTokens.flatMap((_, step) => [`logits ${step}`, `token ${step}`]));
    const finished = auto.messages.at(-1);
    expect(finished?.$case).toBe('finished');
    if (finished?.$case === 'finished') expect(finished.value.tokenIds).toEqual(lockstep.finished?.tokenIds);
  });

  it('Generate streams exactly what Decode in AUTO mode streams', async () => {
    const auto = await autoDecode(START);
    const generated = await generateAll(server.client, START);
    expect(generated.status.code).toBe(0);
    const withoutTimings = (messages: typeof auto.messages) =>
      messages.map((m) => (m.$case === 'finished' ? { ...m, value: { ...m.value, timings: undefined } } : m));
    expect(withoutTimings(generated.messages)).toEqual(withoutTimings(auto.messages));
    const started = generated.messages[0];
    expect(started?.$case === 'started' && started.value.mode).toBe(DecodeMode.DECODE_MODE_AUTO);
  });

  it('a forced token sent while decoding is taken at the step Applied names, and decoding goes on from it', async () => {
    const stream = DecodeStream.open(server.client);
    // EOS masked so the stream is long enough for the message to arrive mid-stream.
    stream.start({ ...START, mode: DecodeMode.DECODE_MODE_AUTO, maxNewTokens: 300, minNewTokens: 300 });
    await stream.expect('started');
    await stream.expect('logits');
    stream.decide({ step: 0, action: { $case: 'forceToken', value: { tokenId: 77 } } });
    const { messages, status } = await stream.drain();
    stream.call.end();
    expect(status.code).toBe(0);
    const applied = messages.find((m) => m.$case === 'applied');
    expect(applied?.$case).toBe('applied');
    if (applied?.$case !== 'applied') return;
    expect(applied.value.messageIndex).toBe(0);
    const tokens = messages.flatMap((m) => (m.$case === 'token' ? [m.value] : [])) as TokenChosen[];
    const fromStep = applied.value.fromStep;
    expect(fromStep).toBeGreaterThanOrEqual(1);
    const atStep = tokens.find((t) => t.step === fromStep);
    expect(atStep).toMatchObject({ tokenId: 77, source: TokenSource.TOKEN_SOURCE_FORCED });
    expect(tokens.filter((t) => t.source === TokenSource.TOKEN_SOURCE_FORCED)).toHaveLength(1);
    // `Applied` comes before the token of the step it names.
    expect(messages.indexOf(applied)).toBeLessThan(messages.findIndex((m) => m.$case === 'token' && m.value.step === fromStep));
  });

  it('a rewind sent while decoding cuts the tokens back and decoding resumes from the rewound step', async () => {
    const stream = DecodeStream.open(server.client);
    stream.start({ ...START, mode: DecodeMode.DECODE_MODE_AUTO, maxNewTokens: 300, minNewTokens: 300 });
    await stream.expect('started');
    // Wait until a few tokens exist, so that a rewind of 2 is in range whenever it lands.
    for (let tokens = 0; tokens < 3; ) if ((await stream.next())?.message?.$case === 'token') tokens++;
    stream.decide({ step: 0, action: { $case: 'rewind', value: { count: 2 } } });
    const { messages, status } = await stream.drain();
    stream.call.end();
    expect(status.code).toBe(0);
    const applied = messages.find((m) => m.$case === 'applied');
    if (applied?.$case !== 'applied') throw new Error('no Applied message');
    const fromStep = applied.value.fromStep;
    const after = messages.slice(messages.indexOf(applied) + 1);
    const nextLogits = after.find((m) => m.$case === 'logits');
    expect(nextLogits?.$case === 'logits' && nextLogits.value.step).toBe(fromStep);
    const finished = messages.at(-1);
    expect(finished?.$case === 'finished' && finished.value.tokenIds.length).toBe(300);
  });

  it('stop sent while decoding ends the stream with CLIENT_STOP before max_new_tokens', async () => {
    const stream = DecodeStream.open(server.client);
    stream.start({ ...START, mode: DecodeMode.DECODE_MODE_AUTO, maxNewTokens: 500, minNewTokens: 500 });
    await stream.expect('started');
    await stream.expect('logits');
    stream.stop();
    const { messages, status } = await stream.drain();
    stream.call.end();
    expect(status.code).toBe(0);
    const finished = messages.at(-1);
    expect(finished?.$case).toBe('finished');
    if (finished?.$case !== 'finished') return;
    expect(finished.value.reason).toBe(FinishReason.FINISH_REASON_CLIENT_STOP);
    expect(finished.value.tokenIds.length).toBeLessThan(500);
  });
});

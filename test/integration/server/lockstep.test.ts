/**
 * LOCKSTEP decoding: exactly one decision per step, and each kind of decision (accept, force a token,
 * force a run, rewind, stop) leaves the stream exactly where decoding that sequence from scratch would.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FinishReason, PipelineScope, TokenSource, type StepLogits } from '../../../src/gen/stepwise/v1/stepwise.js';
import { loadModel } from '../../../src/runtime/index.js';
import type { ModelRuntime } from '../../../src/runtime/types.js';
import { tinyModels } from '../../fixtures/models.js';
import { DecodeStream, type DecisionInput, type StartInput } from '../../support/decode-client.js';
import { ACCEPT, rawRows, runLockstep } from '../../support/lockstep.js';
import { argmax, expectRowsClose, rowBytes, runtimeStepLogits, tensorValues } from '../../support/runtime-reference.js';
import { startTestServer, type TestServer } from '../../support/test-server.js';
import { processor } from '../../support/wire-params.js';

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
// EOS masked, so the random model decodes the full length and every step is comparable.
const LONG = { input: INPUT, minNewTokens: 12, maxNewTokens: 12 } satisfies StartInput;

function decodeWith(start: StartInput, decide: (logits: StepLogits) => DecisionInput | undefined) {
  const stream = DecodeStream.open(server.client);
  stream.start(start);
  return runLockstep(stream, decide);
}

const acceptAll = (logits: StepLogits): DecisionInput => ({ step: logits.step, action: ACCEPT });

/** The second most likely token of a row: a choice greedy decoding would not make. */
function runnerUp(row: Float32Array): number {
  const best = argmax(row);
  let second = best === 0 ? 1 : 0;
  for (let i = 0; i < row.length; i++) if (i !== best && row[i]! > row[second]!) second = i;
  return second;
}

describe('lockstep', () => {
  it('the server selects only after the decision: a forced token is the one taken', async () => {
    let forced = -1;
    const transcript = await decodeWith({ input: INPUT, maxNewTokens: 1 }, (logits) => {
      forced = runnerUp(tensorValues(logits.raw));
      return { step: 0, action: { $case: 'forceToken', value: { tokenId: forced } } };
    });
    expect(transcript.tokens).toHaveLength(1);
    expect(transcript.tokens[0]).toMatchObject({ step: 0, tokenId: forced, source: TokenSource.TOKEN_SOURCE_FORCED });
    expect(transcript.finished?.reason).toBe(FinishReason.FINISH_REASON_MAX_NEW_TOKENS);
  });

  it('after a forced token the stream continues as a fresh decode with that token as decoder prefix', async () => {
    let forced = -1;
    const forcedRun = await decodeWith(LONG, (logits) => {
      if (logits.step > 0) return acceptAll(logits);
      forced = runnerUp(tensorValues(logits.raw));
      return { step: 0, action: { $case: 'forceToken', value: { tokenId: forced } } };
    });
    const fresh = await decodeWith({ ...LONG, decoderPrefixIds: [forced], minNewTokens: 11, maxNewTokens: 11 }, acceptAll);
    expect(fresh.started.decoderPromptIds).toEqual([0, forced]);
    expect(forcedRun.tokens.slice(1).map((t) => t.tokenId)).toEqual(fresh.tokens.map((t) => t.tokenId));
    // The prefix runs through the first-step decoder in one go, the forced token through the cached
    // decoder: the same function computed by two graphs, equal up to float rounding.
    const freshRows = rawRows(fresh.logits);
    rawRows(forcedRun.logits.slice(1)).forEach((row, i) => expectRowsClose(row, freshRows[i]!));
  });

  it('teacher forcing a target as one forced run streams the runtime logits of every target position', async () => {
    const target = [17, 250, 33, 112, 8, 99, 41];
    const transcript = await decodeWith({ input: INPUT, maxNewTokens: 20 }, (logits) =>
      logits.step === 0 ? { step: 0, action: { $case: 'forceTokens', value: { tokenIds: target } } } : undefined,
    );
    expect(transcript.tokens.map((t) => t.tokenId)).toEqual(target);
    expect(transcript.tokens.every((t) => t.source === TokenSource.TOKEN_SOURCE_FORCED)).toBe(true);
    // One logits message per target position, plus the step after the run, which awaited a decision.
    expect(transcript.logits.map((l) => l.step)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    const expected = await runtimeStepLogits(reference, transcript.started.inputIds, target);
    transcript.logits.forEach((message, step) => {
      expect(Buffer.compare(message.raw!.data, rowBytes(expected[step]!)), `step ${step}`).toBe(0);
    });
    expect(transcript.finished).toMatchObject({ reason: FinishReason.FINISH_REASON_CLIENT_STOP, tokenIds: target });
  });

  it('rewinding n tokens and then choosing differently equals decoding the new sequence from scratch', async () => {
    let rewound = false;
    let replacement = -1;
    const transcript = await decodeWith({ ...LONG, maxNewTokens: 8, minNewTokens: 8 }, (logits) => {
      if (logits.step === 5 && !rewound) {
        rewound = true;
        return { step: 5, action: { $case: 'rewind', value: { count: 3 } } };
      }
      if (rewound && logits.step === 2 && replacement === -1) {
        replacement = runnerUp(tensorValues(logits.raw));
        return { step: 2, action: { $case: 'forceToken', value: { tokenId: replacement } } };
      }
      return acceptAll(logits);
    });
    // Steps 0..5 first, then step 2 again after the rewind, then 3..7.
    expect(transcript.logits.map((l) => l.step)).toEqual([0, 1, 2, 3, 4, 5, 2, 3, 4, 5, 6, 7]);
    const kept = transcript.finished!.tokenIds;
    expect(kept).toHaveLength(8);
    expect(kept[2]).toBe(replacement);
    expect(kept.slice(0, 2)).toEqual(transcript.tokens.slice(0, 2).map((t) => t.tokenId));
    const fresh = await runtimeStepLogits(reference, transcript.started.inputIds, kept);
    transcript.logits.slice(6).forEach((message, i) => {
      expect(Buffer.compare(message.raw!.data, rowBytes(fresh[2 + i]!))).toBe(0);
    });
    // The step computed again after the rewind equals the first computation of that step.
    expect(Buffer.compare(transcript.logits[6]!.raw!.data, transcript.logits[2]!.raw!.data)).toBe(0);
  });

  it('whatever each decision takes (the greedy token, another one forced, a banned argmax), every step equals a fresh decode', async () => {
    const decisions: Record<number, (row: Float32Array) => DecisionInput> = {
      0: () => ({ step: 0, action: ACCEPT }),
      // Another token than the one the model thread expected (the argmax): its guess is wasted, nothing else.
      1: (row) => ({ step: 1, action: { $case: 'forceToken', value: { tokenId: runnerUp(row) } } }),
      2: () => ({ step: 2, action: ACCEPT }),
      // This step's pipeline bans the argmax: the guess misses again.
      3: (row) => ({
        step: 3,
        action: ACCEPT,
        pipelineChanges: [
          {
            change: { $case: 'add', value: { processor: processor('ban_tokens', { token_ids: [argmax(row)] }) } },
            scope: PipelineScope.PIPELINE_SCOPE_THIS_STEP,
          },
        ],
      }),
      4: (row) => ({ step: 4, action: { $case: 'forceToken', value: { tokenId: argmax(row) } } }),
    };
    const transcript = await decodeWith({ ...LONG, minNewTokens: 8, maxNewTokens: 8 }, (logits) =>
      decisions[logits.step]?.(tensorValues(logits.raw)) ?? acceptAll(logits),
    );
    expect(transcript.status.code, transcript.status.details).toBe(0);
    const rows = rawRows(transcript.logits);
    const tokens = transcript.finished!.tokenIds;
    expect(tokens[1]).toBe(runnerUp(rows[1]!));
    expect(tokens[3]).not.toBe(argmax(rows[3]!));
    expect(tokens[4]).toBe(argmax(rows[4]!));
    expect(transcript.tokens.map((t) => t.source)).toEqual(
      [0, 1, 0, 0, 1, 0, 0, 0].map((forced) => (forced ? TokenSource.TOKEN_SOURCE_FORCED : TokenSource.TOKEN_SOURCE_SELECTED)),
    );
    // Every step's logits are those of a fresh decode of the tokens taken, bit for bit.
    const fresh = await runtimeStepLogits(reference, transcript.started.inputIds, tokens);
    transcript.logits.forEach((message, step) => {
      expect(Buffer.compare(message.raw!.data, rowBytes(fresh[step]!)), `step ${step}`).toBe(0);
    });
    expect(transcript.finished!.timings!.stepMs).toHaveLength(8);
  });

  it('stop ends the stream with CLIENT_STOP and the tokens generated so far', async () => {
    const transcript = await decodeWith({ ...LONG }, (logits) => (logits.step < 3 ? acceptAll(logits) : undefined));
    expect(transcript.finished).toMatchObject({
      reason: FinishReason.FINISH_REASON_CLIENT_STOP,
      tokenIds: transcript.tokens.map((t) => t.tokenId),
    });
    expect(transcript.tokens).toHaveLength(3);
    expect(transcript.status.code).toBe(0);
  });

  it('a client that half-closes while a step awaits its decision ends the stream with CLIENT_STOP', async () => {
    const stream = DecodeStream.open(server.client);
    stream.start({ input: INPUT });
    await stream.expect('started');
    await stream.expect('logits');
    stream.call.end();
    const finished = await stream.expect('finished');
    expect(finished.reason).toBe(FinishReason.FINISH_REASON_CLIENT_STOP);
    expect((await stream.status).code).toBe(0);
  });
});

describe('stop conditions', () => {
  it('taking the EOS token ends the stream with EOS', async () => {
    const eos = reference.info.specialIds.eos;
    const transcript = await decodeWith({ input: INPUT, maxNewTokens: 10 }, (logits) =>
      logits.step === 2 ? { step: 2, action: { $case: 'forceToken', value: { tokenId: eos } } } : acceptAll(logits),
    );
    expect(transcript.finished?.reason).toBe(FinishReason.FINISH_REASON_EOS);
    expect(transcript.finished?.tokenIds.at(-1)).toBe(eos);
  });

  it('max_new_tokens ends the stream with MAX_NEW_TOKENS after exactly that many tokens', async () => {
    const transcript = await decodeWith({ ...LONG, maxNewTokens: 5, minNewTokens: 5 }, acceptAll);
    expect(transcript.finished?.reason).toBe(FinishReason.FINISH_REASON_MAX_NEW_TOKENS);
    expect(transcript.finished?.tokenIds).toHaveLength(5);
  });

  it('a stop token sequence ends the stream as soon as the generated ids end with it', async () => {
    const run = [40, 41, 42, 43, 44];
    const transcript = await decodeWith(
      { input: INPUT, maxNewTokens: 20, stopTokenSequences: [{ ids: [42, 43] }] },
      (logits) => (logits.step === 0 ? { step: 0, action: { $case: 'forceTokens', value: { tokenIds: run } } } : acceptAll(logits)),
    );
    expect(transcript.finished?.reason).toBe(FinishReason.FINISH_REASON_STOP_SEQUENCE);
    expect(transcript.finished?.tokenIds).toEqual([40, 41, 42, 43]);
  });

  it('a stop string ends the stream as soon as the decoded text contains it, even across tokens', async () => {
    const ids = reference.tokenizer.encode('the green house').slice(0, -1);
    const transcript = await decodeWith(
      { input: INPUT, maxNewTokens: 20, stopStrings: ['en ho'] },
      (logits) => (logits.step === 0 ? { step: 0, action: { $case: 'forceTokens', value: { tokenIds: ids } } } : acceptAll(logits)),
    );
    expect(transcript.finished?.reason).toBe(FinishReason.FINISH_REASON_STOP_SEQUENCE);
    expect(transcript.finished?.text).toContain('en ho');
    expect(transcript.tokens.map((t) => t.text).join('')).toBe(transcript.finished?.text);
  });

  it('the text pieces of the tokens add up to the finished text', async () => {
    const transcript = await decodeWith(LONG, acceptAll);
    expect(transcript.tokens.map((t) => t.text).join('')).toBe(transcript.finished?.text);
    expect(transcript.finished?.text).toBe(reference.tokenizer.decode(transcript.finished!.tokenIds, { skipSpecialTokens: true }));
  });
});

/**
 * Processors through the server: the processed scores, log-probabilities, alternatives and entropy of
 * each step; seeded sampling; constrained outputs (`choice`, `regex`); a plugin loaded at start-up;
 * pipeline changes for one step or from now on; many streams with different pipelines at once.
 */
import { status as Status } from '@grpc/grpc-js';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DecodeMode,
  PipelineScope,
  SelectionMode,
  TokenSource,
  type DecodeResponse,
  type TokenChosen,
} from '../../../src/gen/stepwise/v1/stepwise.js';
import { tinyModels } from '../../fixtures/models.js';
import { DecodeStream, generateAll, unary, type StartInput } from '../../support/decode-client.js';
import { ACCEPT, runLockstep } from '../../support/lockstep.js';
import { argmax, expectRowsClose, tensorValues } from '../../support/runtime-reference.js';
import { startTestServer, type TestServer } from '../../support/test-server.js';
import { float, processor } from '../../support/wire-params.js';

const PLUGIN = fileURLToPath(new URL('../../support/plugins/favour-token.mjs', import.meta.url));
const TEXT = { $case: 'text', value: 'translate English to German: the green house' } as const;

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ modelDir: tinyModels.gatedTied, plugins: [PLUGIN] });
});
afterAll(async () => server?.stop());

type Message = NonNullable<DecodeResponse['message']>;
const tokensOf = (messages: Message[]): TokenChosen[] => messages.flatMap((m) => (m.$case === 'token' ? [m.value] : []));
const finishedOf = (messages: Message[]) => {
  const last = messages.at(-1);
  if (last?.$case !== 'finished') throw new Error(`the stream did not finish: ${JSON.stringify(last?.$case)}`);
  return last.value;
};

async function generate(start: StartInput) {
  const { messages, status } = await generateAll(server.client, start);
  expect(status).toMatchObject({ code: Status.OK });
  return messages;
}

/** log-softmax of `row` at `id`, in float64. */
function logSoftmaxAt(row: Float32Array, id: number): number {
  let max = -Infinity;
  for (const value of row) if (value > max) max = value;
  let sum = 0;
  for (const value of row) sum += Math.exp(value - max);
  return row[id]! - max - Math.log(sum);
}

describe('per-step statistics', () => {
  it('logprob, alternatives and entropy describe the processed scores; raw_logprob the raw logits', async () => {
    const messages = await generate({
      input: TEXT,
      maxNewTokens: 5,
      processors: [processor('repetition_penalty', { repetition_penalty: float(2) })],
      stream: { processedScores: true, topNAlternatives: 4, entropy: true },
    });
    const rows = messages.flatMap((m) => (m.$case === 'logits' ? [tensorValues(m.value.raw)] : []));
    tokensOf(messages).forEach((token, step) => {
      const processed = tensorValues(token.processedScores);
      const raw = rows[step]!;
      expect(token.tokenId).toBe(argmax(processed));
      expect(token.logprob).toBeCloseTo(logSoftmaxAt(processed, token.tokenId), 5);
      expect(token.rawLogprob).toBeCloseTo(logSoftmaxAt(raw, token.tokenId), 5);
      expect(token.alternatives.map((a) => a.tokenId)[0]).toBe(token.tokenId);
      expect(token.alternatives).toHaveLength(4);
      const order = Array.from(processed.keys()).sort((a, b) => processed[b]! - processed[a]! || a - b);
      expect(token.alternatives.map((a) => a.tokenId)).toEqual(order.slice(0, 4));
      let entropy = 0;
      for (let id = 0; id < processed.length; id++) {
        const logp = logSoftmaxAt(processed, id);
        entropy -= Math.exp(logp) * logp;
      }
      expect(token.entropy).toBeCloseTo(entropy, 4);
      expect(token.rawEntropy).toBeGreaterThan(0);
    });
  });

  it('raw statistics stay exact when only removed tokens separate the processed row from the raw one', async () => {
    // Greedy over processors that only remove listed ids: the raw figures are worked out from the processed
    // ones. Suppressing the first greedy token makes the raw maximum one of the removed ids at step 0.
    const plain = await generate({ input: TEXT, maxNewTokens: 1 });
    const first = tokensOf(plain)[0]!.tokenId;
    const messages = await generate({
      input: TEXT,
      maxNewTokens: 5,
      processors: [
        processor('min_new_tokens', { min_new_tokens: 5 }),
        processor('suppress_tokens', { suppress_tokens: [first] }),
      ],
      stream: { processedScores: true, entropy: true },
    });
    const rows = messages.flatMap((m) => (m.$case === 'logits' ? [tensorValues(m.value.raw)] : []));
    const entropyOf = (row: Float32Array) =>
      Array.from(row.keys()).reduce((sum, id) => {
        const logp = logSoftmaxAt(row, id);
        return logp === -Infinity ? sum : sum - Math.exp(logp) * logp;
      }, 0);
    tokensOf(messages).forEach((token, step) => {
      const raw = rows[step]!;
      expect(token.tokenId).not.toBe(first);
      expect(token.rawLogprob).toBeCloseTo(logSoftmaxAt(raw, token.tokenId), 5);
      expect(token.rawEntropy).toBeCloseTo(entropyOf(raw), 4);
      const processed = tensorValues(token.processedScores);
      expect(processed[first]).toBe(-Infinity);
      expect(token.logprob).toBeCloseTo(logSoftmaxAt(processed, token.tokenId), 5);
      expect(token.entropy).toBeCloseTo(entropyOf(processed), 4);
    });
    expect(argmax(rows[0]!)).toBe(first);
  });

  it('greedy selection runs every processor: the processed scores and log-probabilities are those of the whole pipeline', async () => {
    const messages = await generate({
      input: TEXT,
      maxNewTokens: 3,
      processors: [processor('temperature', { temperature: float(0.5) })],
      stream: { processedScores: true },
    });
    const rows = messages.flatMap((m) => (m.$case === 'logits' ? [tensorValues(m.value.raw)] : []));
    tokensOf(messages).forEach((token, step) => {
      const halved = rows[step]!.map((score) => Math.fround(score / Math.fround(0.5)));
      expect(Array.from(tensorValues(token.processedScores))).toEqual(Array.from(halved));
      expect(token.tokenId).toBe(argmax(rows[step]!));
      expect(token.logprob).not.toBe(token.rawLogprob);
    });
  });

  it('a pipeline that removes every token ends the stream with FAILED_PRECONDITION naming the step', async () => {
    const { status } = await generateAll(server.client, {
      input: TEXT,
      processors: [processor('allow_tokens', { token_ids: [5] }), processor('ban_tokens', { token_ids: [5] })],
    });
    expect(status.code).toBe(Status.FAILED_PRECONDITION);
    expect(status.details).toContain('step 0');
    expect(status.details).toContain('ban_tokens');
  });
});

describe('sampling', () => {
  const sampled = (seed: bigint | undefined) =>
    generate({
      input: TEXT,
      maxNewTokens: 12,
      minNewTokens: 12,
      selection: { mode: SelectionMode.SELECTION_MODE_SAMPLE, seed },
      generationConfig: { temperature: 1.5, topK: 0 },
    });

  it('the same seed reproduces the same tokens; another seed draws others', async () => {
    const first = finishedOf(await sampled(7n)).tokenIds;
    const again = finishedOf(await sampled(7n)).tokenIds;
    const other = finishedOf(await sampled(8n)).tokenIds;
    expect(again).toEqual(first);
    expect(other).not.toEqual(first);
  });

  it('a LOCKSTEP client accepting every step gets the tokens Generate draws with the same seed', async () => {
    // LOCKSTEP draws each step's token ahead of the decision; the draw depends only on (seed, stream, step).
    const stream = DecodeStream.open(server.client);
    stream.start({
      input: TEXT,
      maxNewTokens: 12,
      minNewTokens: 12,
      selection: { mode: SelectionMode.SELECTION_MODE_SAMPLE, seed: 7n },
      generationConfig: { temperature: 1.5, topK: 0 },
    });
    const lockstep = await runLockstep(stream, (logits) => ({ step: logits.step, action: ACCEPT }));
    expect(lockstep.finished!.tokenIds).toEqual(finishedOf(await sampled(7n)).tokenIds);
    expect(lockstep.finished!.timings!.stepMs).toHaveLength(12);
  });

  it('without a seed the server draws one, reports it in Started, and replaying it reproduces the stream', async () => {
    const messages = await sampled(undefined);
    const started = messages[0];
    if (started?.$case !== 'started') throw new Error('no Started');
    expect(started.value.selectionMode).toBe(SelectionMode.SELECTION_MODE_SAMPLE);
    const replay = await sampled(started.value.seed);
    expect(finishedOf(replay).tokenIds).toEqual(finishedOf(messages).tokenIds);
  });

  it('generation_config builds the pipeline in Hugging Face order and Started reports it', async () => {
    const messages = await generate({
      input: TEXT,
      maxNewTokens: 2,
      processors: [processor('favour_token', { token_id: 9, bias: float(0.5) })],
      generationConfig: { doSample: true, temperature: 0.7, topP: 0.9, repetitionPenalty: 1.3 },
      selection: { seed: 1n },
    });
    const started = messages[0];
    if (started?.$case !== 'started') throw new Error('no Started');
    expect(started.value.pipeline.map((spec) => spec.name)).toEqual([
      'repetition_penalty',
      'favour_token',
      'temperature',
      'top_k',
      'top_p',
    ]);
  });
});

describe('constrained outputs', () => {
  it('with `choice` the output is one of the choices', async () => {
    const choices = ['the house', 'a green cat', 'small'];
    const messages = await generate({ input: TEXT, maxNewTokens: 20, processors: [processor('choice', { choices })] });
    expect(choices).toContain(finishedOf(messages).text);
  });

  it('with `regex` the output matches the pattern', async () => {
    const messages = await generate({
      input: TEXT,
      maxNewTokens: 20,
      processors: [processor('regex', { pattern: '[0-9]{2,4}' })],
      selection: { mode: SelectionMode.SELECTION_MODE_SAMPLE, seed: 3n },
    });
    expect(finishedOf(messages).text).toMatch(/^[0-9]{2,4}$/);
  });
});

describe('plugins', () => {
  it('a plugin given at start-up is listed by ListProcessors with its parameters', async () => {
    const { processors } = await unary(server.client, 'listProcessors', {});
    const plugin = processors.find((p) => p.name === 'favour_token');
    expect(plugin?.parameters.map((p) => p.name).sort()).toEqual(['bias', 'token_id']);
  });

  it('a plugin is used by name like a built-in', async () => {
    const messages = await generate({
      input: TEXT,
      maxNewTokens: 4,
      processors: [processor('favour_token', { token_id: 123, bias: float(1000) })],
    });
    expect(finishedOf(messages).tokenIds).toEqual([123, 123, 123, 123]);
  });
});

describe('pipeline changes', () => {
  it('a THIS_STEP change applies to that step only; a FROM_NOW_ON change stays', async () => {
    let banned = -1;
    const stream = DecodeStream.open(server.client);
    stream.start({ input: TEXT, maxNewTokens: 5, minNewTokens: 5, stream: { processedScores: true } });
    const transcript = await runLockstep(stream, (logits) => {
      const row = tensorValues(logits.raw);
      if (logits.step === 1) {
        banned = argmax(row);
        const ban = processor('ban_tokens', { token_ids: [banned] });
        return { step: 1, action: ACCEPT, pipelineChanges: [{ change: { $case: 'add', value: { processor: ban } }, scope: PipelineScope.PIPELINE_SCOPE_THIS_STEP }] };
      }
      if (logits.step === 3) {
        const favour = processor('favour_token', { token_id: 50, bias: float(1000) });
        return { step: 3, action: ACCEPT, pipelineChanges: [{ change: { $case: 'add', value: { processor: favour } } }] };
      }
      return { step: logits.step, action: ACCEPT };
    });
    const [t0, t1, t2, t3, t4] = transcript.tokens;
    const rows = transcript.logits.map((l) => tensorValues(l.raw));
    expect(t1!.tokenId).not.toBe(banned);
    expect(tensorValues(t1!.processedScores)[banned]).toBe(-Infinity);
    // Steps 0 and 2 ran the start pipeline only: the raw row with EOS masked (min_new_tokens).
    for (const [token, row] of [[t0!, rows[0]!], [t2!, rows[2]!]] as const) {
      const expected = Float32Array.from(row);
      expected[transcript.started.specialIds!.eosTokenId] = -Infinity;
      expect(Array.from(tensorValues(token.processedScores))).toEqual(Array.from(expected));
    }
    expect([t3!.tokenId, t4!.tokenId]).toEqual([50, 50]);
  });
});

describe('concurrent pipelines', () => {
  it('sixteen streams with different pipelines each equal their isolated processed scores', async () => {
    const pipelines = [
      [],
      [processor('repetition_penalty', { repetition_penalty: float(1.5) })],
      [processor('no_repeat_ngram_size', { no_repeat_ngram_size: 2 })],
      [processor('favour_token', { token_id: 31, bias: float(2) })],
      [processor('suppress_tokens', { suppress_tokens: [3, 4, 5] })],
      [processor('sequence_bias', { sequence_bias: [[[7, 8], float(3)]] })],
      [processor('choice', { choices: ['the house', 'green'] })],
      [processor('min_new_tokens', { min_new_tokens: 3 })],
    ];
    const start = (i: number): StartInput => ({
      input: { $case: 'text', value: `${TEXT.value} ${'abc'.repeat(i % 3)}` },
      maxNewTokens: 6,
      mode: DecodeMode.DECODE_MODE_AUTO,
      processors: pipelines[i % pipelines.length]!,
      stream: { processedScores: true },
    });
    const collect = async (i: number) => {
      const stream = DecodeStream.open(server.newClient());
      stream.start(start(i));
      const { messages, status } = await stream.drain();
      stream.call.end();
      expect(status.code).toBe(Status.OK);
      return tokensOf(messages);
    };
    const isolated: TokenChosen[][] = [];
    for (let i = 0; i < 16; i++) isolated.push(await collect(i));
    const concurrent = await Promise.all(Array.from({ length: 16 }, (_, i) => collect(i)));
    concurrent.forEach((tokens, i) => {
      expect(tokens.map((t) => t.tokenId)).toEqual(isolated[i]!.map((t) => t.tokenId));
      expect(tokens.every((t) => t.source === TokenSource.TOKEN_SOURCE_SELECTED)).toBe(true);
      tokens.forEach((token, step) =>
        expectRowsClose(tensorValues(token.processedScores), tensorValues(isolated[i]![step]!.processedScores)),
      );
    });
  });
});

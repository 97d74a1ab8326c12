/**
 * `Score` and `ScoreBatch` over gRPC: every target token gets what a `Decode` that forces the same target
 * reports at that step, concurrent calls share scoring runs, and every request beyond a bound is refused
 * with a status naming the field.
 */
import { status as Status, type ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataType, LogitsFormat, type ScoreRequest, type ScoreResponse, type TokenScore } from '../../../src/gen/stepwise/v1/stepwise.js';
import type { StepScheduler } from '../../../src/runtime/step-scheduler.js';
import { float16BitsOfFloat32Bits as float32BitsToFloat16 } from '../../../src/numeric/index.js';
import { tinyModels } from '../../fixtures/models.js';
import { DecodeStream, unary, type StartInput } from '../../support/decode-client.js';
import { runLockstep, rawRows, type LockstepTranscript } from '../../support/lockstep.js';
import { tensorValues } from '../../support/runtime-reference.js';
import { startTestServer, type TestServer } from '../../support/test-server.js';

type ScoreInput = Parameters<typeof ScoreRequest.fromPartial>[0];

const INPUT = 'translate English to German: The house is wonderful.';
const TEXT_TARGETS = ['Das Haus ist wunderbar.', 'Haus', ''];
/** Id targets of different lengths, without EOS (a forced EOS would end the Decode stream early). */
const ID_TARGETS = [[17, 42, 9, 300, 5, 77, 81, 12, 400, 3], [250], [8, 8, 8]];
/**
 * Score's rows come from the decoder without cache over the whole target, a forced Decode's from the
 * cached decoder after its first step: two graph paths, equal up to float32 rounding.
 */
const GRAPH_TOLERANCE = 1e-5;
const TOP_N = 3;

/** Forces `tokens` through a LOCKSTEP Decode after `prefix`, streaming what Score reports. */
async function forcedDecode(server: TestServer, input: StartInput['input'], tokens: readonly number[], prefix: readonly number[]): Promise<LockstepTranscript> {
  const stream = DecodeStream.open(server.client);
  stream.start({
    input,
    decoderPrefixIds: [...prefix],
    maxNewTokens: tokens.length,
    stream: { rawLogits: LogitsFormat.LOGITS_FORMAT_FLOAT32, topNAlternatives: TOP_N, entropy: true },
  });
  const transcript = await runLockstep(stream, (logits) =>
    logits.step === 0 ? { step: 0, action: { $case: 'forceTokens', value: { tokenIds: [...tokens] } } } : undefined,
  );
  expect(transcript.status.code).toBe(Status.OK);
  return transcript;
}

function maxAbsDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let largest = 0;
  for (let i = 0; i < a.length; i++) largest = Math.max(largest, Math.abs(a[i]! - b[i]!));
  return largest;
}

/** Asserts a scored target equals the steps of its forced decode. */
function expectScoredAsForced(tokens: readonly TokenScore[], forced: LockstepTranscript): void {
  const rows = rawRows(forced.logits);
  expect(tokens.map((token) => token.tokenId)).toEqual(forced.tokens.map((token) => token.tokenId));
  tokens.forEach((token, step) => {
    const chosen = forced.tokens[step]!;
    expect(token.text).toBe(chosen.text);
    expect(Math.abs(token.logprob - chosen.rawLogprob)).toBeLessThanOrEqual(GRAPH_TOLERANCE);
    expect(Math.abs(token.entropy! - chosen.rawEntropy!)).toBeLessThanOrEqual(GRAPH_TOLERANCE);
    expect(token.alternatives.map((alternative) => [alternative.tokenId, alternative.text])).toEqual(
      chosen.alternatives.map((alternative) => [alternative.tokenId, alternative.text]),
    );
    token.alternatives.forEach((alternative, i) => {
      expect(Math.abs(alternative.logprob - chosen.alternatives[i]!.rawLogprob)).toBeLessThanOrEqual(GRAPH_TOLERANCE);
      expect(alternative.rawLogprob).toBe(alternative.logprob);
    });
    expect(maxAbsDifference(tensorValues(token.raw), rows[step]!)).toBeLessThanOrEqual(GRAPH_TOLERANCE);
  });
}

/** The status of a call that must fail. */
async function refusal(promise: Promise<unknown>): Promise<{ code: Status; details: string }> {
  try {
    await promise;
  } catch (error) {
    const failed = error as ServiceError;
    return { code: failed.code, details: failed.details };
  }
  throw new Error('the call succeeded; a refusal was expected');
}

describe('Score', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ modelDir: tinyModels.reluTied });
  });
  afterAll(async () => {
    await server?.stop();
  });

  const score = (request: ScoreInput): Promise<ScoreResponse> => unary(server.client, 'score', request);
  const asked = { topNAlternatives: TOP_N, entropy: true, rawLogits: LogitsFormat.LOGITS_FORMAT_FLOAT32 };

  it.each([
    { label: 'no decoder prefix', prefix: [] },
    { label: 'a decoder prefix', prefix: [33, 7] },
  ])('equals forcing each target through Decode, text and id targets of different lengths ($label)', async ({ prefix }) => {
    const input = { $case: 'text', value: INPUT } as const;
    const targets = [...TEXT_TARGETS.map((text) => ({ target: { $case: 'text', value: text } as const })), ...ID_TARGETS.map((ids) => ({ target: { $case: 'tokenIds', value: { ids } } as const }))];
    const response = await score({ input, targets, decoderPrefixIds: prefix, ...asked });
    expect(response.results).toHaveLength(targets.length);
    expect(response.decoderPromptIds).toEqual([0, ...prefix]);
    // A text target is tokenized with `</s>` appended, as Tokenize (and Hugging Face's `labels`) do.
    const textIds = await Promise.all(TEXT_TARGETS.map(async (text) => (await unary(server.client, 'tokenize', { text })).tokenIds));
    for (const [index, ids] of [...textIds, ...ID_TARGETS].entries()) {
      expect(response.results[index]!.tokens.map((token) => token.tokenId)).toEqual(ids);
      expectScoredAsForced(response.results[index]!.tokens, await forcedDecode(server, input, ids, prefix));
    }
    const started = await unary(server.client, 'tokenize', { text: INPUT });
    expect(response.inputIds).toEqual(started.tokenIds);
  });

  it('reports the sum and mean of the logprobs, the rank among the raw logits and the decoded text', async () => {
    const response = await score({ input: { $case: 'tokenIds', value: { ids: [148, 149, 6, 1] } }, targets: [{ target: { $case: 'text', value: 'Das Haus' } }], rawLogits: LogitsFormat.LOGITS_FORMAT_FLOAT32 });
    const [result] = response.results;
    const logprobs = result!.tokens.map((token) => token.logprob);
    expect(result!.logprobSum).toBe(logprobs.reduce((sum, value) => sum + value, 0));
    expect(result!.logprobMean).toBe(result!.logprobSum / logprobs.length);
    expect(result!.text).toBe((await unary(server.client, 'detokenize', { tokenIds: result!.tokens.map((token) => token.tokenId), skipSpecialTokens: true })).text);
    for (const token of result!.tokens) {
      const row = tensorValues(token.raw);
      expect(token.rank).toBe(1 + row.filter((logit) => logit > row[token.tokenId]!).length);
      // Without asking, no alternatives and no entropy.
      expect(token.alternatives).toEqual([]);
      expect(token.entropy).toBeUndefined();
    }
    expect(response.timings!.totalMs).toBeGreaterThan(0);
  });

  it('sends no rows unless asked; FLOAT16 and TOP_K rows are the FLOAT32 rows in those formats', async () => {
    const request = { input: { $case: 'text', value: INPUT } as const, targets: [{ target: { $case: 'tokenIds', value: { ids: ID_TARGETS[0]! } } as const }] };
    const none = await score(request);
    expect(none.results[0]!.tokens.every((token) => token.raw === undefined && token.top === undefined)).toBe(true);
    const float32 = await score({ ...request, rawLogits: LogitsFormat.LOGITS_FORMAT_FLOAT32 });
    const float16 = await score({ ...request, rawLogits: LogitsFormat.LOGITS_FORMAT_FLOAT16 });
    const top = await score({ ...request, rawLogits: LogitsFormat.LOGITS_FORMAT_TOP_K, rawTopK: 4 });
    float32.results[0]!.tokens.forEach((token, i) => {
      const row = tensorValues(token.raw);
      const half = float16.results[0]!.tokens[i]!.raw!;
      expect(half.dtype).toBe(DataType.DATA_TYPE_FLOAT16);
      expect([...new Uint16Array(Uint8Array.from(half.data).buffer)]).toEqual([...new Uint32Array(row.buffer)].map(float32BitsToFloat16));
      const best = [...row.keys()].sort((a, b) => row[b]! - row[a]! || a - b).slice(0, 4);
      expect(top.results[0]!.tokens[i]!.top!.tokenIds).toEqual(best);
      expect(top.results[0]!.tokens[i]!.top!.logits).toEqual(best.map((id) => row[id]!));
    });
  });

  it('concurrent Score calls share scoring runs, and each gets what it gets alone', async () => {
    const requests = ['hi', INPUT, 'summarize: a dog is good for you', 'question: what colour is the sky?'].map((text, index) => ({
      input: { $case: 'text', value: text } as const,
      targets: [{ target: { $case: 'tokenIds', value: { ids: ID_TARGETS[index % 3]! } } as const }, { target: { $case: 'text', value: TEXT_TARGETS[0]! } as const }],
      entropy: true,
    }));
    const alone: ScoreResponse[] = [];
    for (const request of requests) alone.push(await score(request));
    const scheduler = server.app.model as StepScheduler;
    const before = scheduler.stats;
    const clients = requests.map(() => server.newClient());
    const together = await Promise.all(requests.map((request, index) => unary(clients[index]!, 'score', request)));
    const after = scheduler.stats;
    expect(after.scoredTargets - before.scoredTargets).toBe(8);
    expect(after.sharedScoreRuns - before.sharedScoreRuns).toBeGreaterThanOrEqual(1);
    expect(after.scoreRuns - before.scoreRuns).toBeLessThan(requests.length);
    together.forEach((response, index) =>
      response.results.forEach((result, target) =>
        result.tokens.forEach((token, i) => {
          const isolated = alone[index]!.results[target]!.tokens[i]!;
          expect(token.tokenId).toBe(isolated.tokenId);
          // Batched with other targets and inputs (padded and masked): equal up to float32 rounding.
          expect(Math.abs(token.logprob - isolated.logprob)).toBeLessThanOrEqual(GRAPH_TOLERANCE);
          expect(Math.abs(token.entropy! - isolated.entropy!)).toBeLessThanOrEqual(GRAPH_TOLERANCE);
        }),
      ),
    );
  });

  it('ScoreBatch answers each request, in order, as Score does', async () => {
    const requests: ScoreInput[] = [
      { input: { $case: 'text', value: INPUT }, targets: [{ target: { $case: 'text', value: TEXT_TARGETS[0]! } }], topNAlternatives: 2 },
      { input: { $case: 'tokenIds', value: { ids: [5, 6, 1] } }, targets: ID_TARGETS.map((ids) => ({ target: { $case: 'tokenIds', value: { ids } } })), decoderPrefixIds: [9] },
    ];
    const batch = await unary(server.client, 'scoreBatch', { requests });
    expect(batch.responses).toHaveLength(2);
    for (const [index, request] of requests.entries()) {
      const single = await score(request);
      const batched = batch.responses[index]!;
      expect(batched.inputIds).toEqual(single.inputIds);
      expect(batched.decoderPromptIds).toEqual(single.decoderPromptIds);
      batched.results.forEach((result, target) => {
        expect(result.text).toBe(single.results[target]!.text);
        result.tokens.forEach((token, i) => {
          const expected = single.results[target]!.tokens[i]!;
          expect({ ...token, logprob: 0, alternatives: [] }).toEqual({ ...expected, logprob: 0, alternatives: [] });
          expect(Math.abs(token.logprob - expected.logprob)).toBeLessThanOrEqual(GRAPH_TOLERANCE);
          expect(token.alternatives.map((alternative) => alternative.tokenId)).toEqual(expected.alternatives.map((alternative) => alternative.tokenId));
        });
      });
    }
  });

  it('GetModelInfo reports the bounds of a call', async () => {
    const info = await unary(server.client, 'getModelInfo', {});
    expect(info.limits).toMatchObject({ maxScoreTargets: 64, maxScoreTokens: 1024 });
  });

  it('writes an access line per call', async () => {
    await score({ input: { $case: 'text', value: 'hi' }, targets: [{ target: { $case: 'text', value: 'hallo' } }] });
    expect(server.logger.entries.some(({ fields }) => fields.kind === 'access' && fields.method === 'Score' && fields.code === 'OK')).toBe(true);
  });
});

describe('Score refusals', () => {
  let server: TestServer;
  let vocab: number;
  beforeAll(async () => {
    server = await startTestServer({
      modelDir: tinyModels.reluTied,
      limits: { maxScoreTargets: 4, maxScoreTokens: 40, maxNewTokens: 16, maxSendMessageBytes: 64 * 1024 },
    });
    vocab = (await unary(server.client, 'getModelInfo', {})).vocabSize;
  });
  afterAll(async () => {
    await server?.stop();
  });

  const text = { $case: 'text', value: 'hi' } as const;
  const ids = (...values: number[]) => ({ target: { $case: 'tokenIds', value: { ids: values } } as const });
  const refused = (request: ScoreInput) => refusal(unary(server.client, 'score', request));
  const invalid = (details: string) => ({ code: Status.INVALID_ARGUMENT, details });

  it('no input, no targets, an unset target, an empty target', async () => {
    expect(await refused({ targets: [ids(5)] })).toEqual(invalid('`input` must be set (text or token_ids); given none'));
    expect(await refused({ input: text })).toEqual(invalid('`targets` must hold at least one target; given 0'));
    expect(await refused({ input: text, targets: [ids(5), {}] })).toEqual(invalid('`targets[1].target` must be set (text or token_ids); given none'));
    expect(await refused({ input: text, targets: [ids()] })).toEqual(invalid('`targets[0].token_ids.ids` must hold at least one id; given 0'));
  });

  it('too many targets, too many tokens in all, a target too long', async () => {
    expect(await refused({ input: text, targets: [ids(5), ids(5), ids(5), ids(5), ids(5)] })).toEqual(
      invalid('`targets` must hold at most 4 targets (`max_score_targets`); given 5'),
    );
    const fifteen = Array.from({ length: 15 }, (_, i) => 5 + i);
    expect(await refused({ input: text, targets: [ids(...fifteen), ids(...fifteen), ids(...fifteen)] })).toEqual(
      invalid('the targets of one call must hold at most 40 tokens together (`max_score_tokens`); given 45'),
    );
    expect(await refused({ input: text, targets: [ids(...fifteen, 3, 4)] })).toEqual(
      invalid('`targets[0].token_ids.ids` must hold at most 16 ids (`max_new_tokens`); given 17'),
    );
    expect(await refused({ input: text, targets: [{ target: { $case: 'text', value: 'a b c d e f g h i j k l m n o p q' } }] })).toMatchObject({
      code: Status.INVALID_ARGUMENT,
      details: expect.stringMatching(/^`targets\[0\]\.text` must encode to at most 16 tokens \(`max_new_tokens`\); given \d+ tokens$/),
    });
  });

  it('ids out of range in a target, the input and the decoder prefix', async () => {
    expect(await refused({ input: text, targets: [ids(5, vocab)] })).toEqual(invalid(`\`targets[0].token_ids.ids[1]\` must be in [0, ${vocab}); given ${vocab}`));
    expect(await refused({ input: { $case: 'tokenIds', value: { ids: [vocab + 7] } }, targets: [ids(5)] })).toEqual(
      invalid(`\`token_ids.ids[0]\` must be in [0, ${vocab}); given ${vocab + 7}`),
    );
    expect(await refused({ input: text, targets: [ids(5)], decoderPrefixIds: [3, vocab] })).toEqual(
      invalid(`\`decoder_prefix_ids[1]\` must be in [0, ${vocab}); given ${vocab}`),
    );
  });

  it('alternatives, the top-k width and raw rows beyond what one response holds', async () => {
    expect(await refused({ input: text, targets: [ids(5)], topNAlternatives: 65 })).toEqual(invalid('`top_n_alternatives` must be in [0, 64]; given 65'));
    expect(await refused({ input: text, targets: [ids(5)], rawLogits: LogitsFormat.LOGITS_FORMAT_TOP_K })).toEqual(
      invalid(`\`raw_top_k\` must be in [1, ${vocab}] with \`raw_logits\` TOP_K; given 0`),
    );
    expect(await refused({ input: text, targets: [ids(5)], rawLogits: 99 as LogitsFormat })).toEqual(invalid('`raw_logits` must be one of FLOAT32, FLOAT16, TOP_K, NONE; given 99'));
    const thirty = Array.from({ length: 10 }, (_, i) => 5 + i);
    const bytes = 30 * vocab * 4;
    expect(await refused({ input: text, targets: [ids(...thirty), ids(...thirty), ids(...thirty)], rawLogits: LogitsFormat.LOGITS_FORMAT_FLOAT32 })).toEqual(
      invalid(
        `the raw rows asked for (\`raw_logits\`) make a response of at least ${bytes} bytes; one response holds at most 65536 bytes: ask for FLOAT16, TOP_K or fewer target tokens per call`,
      ),
    );
    // The same rows in half the bytes fit.
    await expect(unary(server.client, 'score', { input: text, targets: [ids(...thirty), ids(...thirty), ids(...thirty)], rawLogits: LogitsFormat.LOGITS_FORMAT_FLOAT16 })).resolves.toBeDefined();
  });

  it('ScoreBatch: no requests, targets beyond the bound together, and fields named by their request', async () => {
    const batch = (requests: ScoreInput[]) => refusal(unary(server.client, 'scoreBatch', { requests }));
    expect(await batch([])).toEqual(invalid('`requests` must hold at least one request; given 0'));
    expect(await batch([{ input: text, targets: [ids(5), ids(5), ids(5)] }, { input: text, targets: [ids(5), ids(5)] }])).toEqual(
      invalid('the `targets` of `requests` must hold at most 4 targets together (`max_score_targets`); given 5'),
    );
    expect(await batch([{ input: text, targets: [ids(5)] }, { input: text, targets: [ids(5, 6, vocab)] }])).toEqual(
      invalid(`\`requests[1].targets[0].token_ids.ids[2]\` must be in [0, ${vocab}); given ${vocab}`),
    );
    expect(await batch([{ input: text, targets: [ids(5)] }, { targets: [ids(5)] }])).toEqual(invalid('`requests[1].input` must be set (text or token_ids); given none'));
  });
});

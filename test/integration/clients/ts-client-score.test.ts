/**
 * The TypeScript client's `score` and `scoreBatch` against a live server: every scored token is what a
 * `Decode` that forces the same target reports through the same client, rows come as `Float32Array`s, and
 * refusals come as `StepwiseCallError`s naming the field.
 */
import { status } from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  StepwiseCallError,
  StepwiseClient,
  TokenSource,
  accept,
  force,
  type DecodedStep,
  type ScoredToken,
} from '../../../clients/ts/index.js';
import { tinyModels } from '../../fixtures/models.js';
import { startTestServer, type TestServer } from '../../support/test-server.js';

const TEXT = 'translate English to German: The house is wonderful.';
const TEXT_TARGETS = ['Das Haus ist wunderbar.', 'Haus'];
/** Id targets without EOS (a forced EOS would end the Decode early). */
const ID_TARGETS = [[17, 42, 9, 300, 5, 77], [250]];
/** Score runs the decoder without cache over the whole target, Decode the cached decoder: equal up to float32 rounding. */
const GRAPH_TOLERANCE = 1e-5;
const TOP_N = 3;

let server: TestServer;
let client: StepwiseClient;

beforeAll(async () => {
  server = await startTestServer({ modelDir: tinyModels.reluTied });
  client = new StepwiseClient(server.address);
});
afterEach(async () => {
  await server.settled();
});
afterAll(async () => {
  client?.close();
  await server?.stop();
});

/** Forces `ids` through a lockstep decode after `prefix`, through the client, with what score reports. */
async function forcedDecode(ids: readonly number[], prefix: readonly number[]): Promise<DecodedStep[]> {
  const steps: DecodedStep[] = [];
  const run = client.decode(
    { text: TEXT, decoderPrefixIds: prefix, maxNewTokens: ids.length, stream: { rawLogits: 'float32', topNAlternatives: TOP_N, entropy: true } },
    (step) => (step.step === 0 ? force(ids) : accept()),
  );
  for await (const step of run) steps.push(step);
  return steps;
}

function maxAbsDifference(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let largest = 0;
  for (let i = 0; i < a.length; i++) largest = Math.max(largest, Math.abs(a[i]! - b[i]!));
  return largest;
}

function expectScoredAsForced(tokens: readonly ScoredToken[], forced: readonly DecodedStep[]): void {
  expect(tokens.map((token) => token.tokenId)).toEqual(forced.map((step) => step.token.tokenId));
  tokens.forEach((token, index) => {
    const chosen = forced[index]!.token;
    expect(chosen.source).toBe(TokenSource.TOKEN_SOURCE_FORCED);
    expect(token.text).toBe(chosen.text);
    expect(Math.abs(token.logprob - chosen.rawLogprob)).toBeLessThanOrEqual(GRAPH_TOLERANCE);
    expect(Math.abs(token.entropy! - chosen.rawEntropy!)).toBeLessThanOrEqual(GRAPH_TOLERANCE);
    expect(token.alternatives.map((alternative) => alternative.tokenId)).toEqual(chosen.alternatives.map((alternative) => alternative.tokenId));
    expect(maxAbsDifference(token.logits!, forced[index]!.logits!)).toBeLessThanOrEqual(GRAPH_TOLERANCE);
  });
}

describe('StepwiseClient.score', () => {
  it.each([
    { label: 'no decoder prefix', prefix: [] },
    { label: 'a decoder prefix', prefix: [33, 7] },
  ])('scores text and id targets as a decode that forces them through the client ($label)', async ({ prefix }) => {
    const scored = await client.score({
      text: TEXT,
      targets: [...TEXT_TARGETS, ...ID_TARGETS],
      decoderPrefixIds: prefix,
      topNAlternatives: TOP_N,
      entropy: true,
      rawLogits: 'float32',
    });
    expect(scored.decoderPromptIds).toEqual([0, ...prefix]);
    expect(scored.inputIds).toEqual((await client.tokenize(TEXT)).tokenIds);
    // A text target is its tokenization with `</s>` appended, as Tokenize gives it.
    const textIds = await Promise.all(TEXT_TARGETS.map(async (text) => (await client.tokenize(text)).tokenIds));
    const expectedIds = [...textIds, ...ID_TARGETS];
    expect(scored.results.map((target) => target.tokenIds)).toEqual(expectedIds);
    for (const [index, ids] of expectedIds.entries()) expectScoredAsForced(scored.results[index]!.tokens, await forcedDecode(ids, prefix));
  });

  it('gives each target its sum and mean, each token its rank among the raw logits, and rows as float32 rows of the received bytes', async () => {
    const scored = await client.score({ inputIds: [148, 149, 6, 1], targets: ['Das Haus'], rawLogits: 'float32' });
    const [target] = scored.results;
    const logprobs = target!.tokens.map((token) => token.logprob);
    expect(target!.logprobSum).toBe(logprobs.reduce((sum, value) => sum + value, 0));
    expect(target!.logprobMean).toBe(target!.logprobSum / logprobs.length);
    expect(target!.text).toBe(await client.detokenize(target!.tokenIds, true));
    for (const token of target!.tokens) {
      const row = token.logits!;
      const bytes = token.message.raw!.data;
      expect(row).toBeInstanceOf(Float32Array);
      expect(Buffer.from(row.buffer, row.byteOffset, row.byteLength).equals(bytes)).toBe(true);
      // A view where the row's bytes lie on a 4-byte boundary of the received message, else a copy.
      if (bytes.byteOffset % 4 === 0) expect(row.buffer).toBe(bytes.buffer);
      expect(token.rank).toBe(1 + row.filter((logit) => logit > row[token.tokenId]!).length);
      expect(token.alternatives).toEqual([]);
      expect(token.entropy).toBeUndefined();
    }
    expect(scored.timings!.totalMs).toBeGreaterThan(0);
  });

  it('sends no rows unless asked; float16 rows read as float32, top-k rows as the highest logits', async () => {
    const request = { text: TEXT, targets: [ID_TARGETS[0]!] };
    const none = await client.score(request);
    expect(none.results[0]!.tokens.every((token) => token.logits === undefined && token.top === undefined)).toBe(true);
    const float32 = await client.score({ ...request, rawLogits: 'float32' });
    const float16 = await client.score({ ...request, rawLogits: 'float16' });
    const top = await client.score({ ...request, rawLogits: 'top-k', rawTopK: 4 });
    float32.results[0]!.tokens.forEach((token, index) => {
      const row = token.logits!;
      const half = float16.results[0]!.tokens[index]!.logits!;
      expect(half).toBeInstanceOf(Float32Array);
      // float16 keeps 11 significant bits: within 2^-11 relative of each float32 value.
      row.forEach((value, id) => expect(Math.abs(half[id]! - value)).toBeLessThanOrEqual(Math.abs(value) * 2 ** -11 + 1e-7));
      const best = [...row.keys()].sort((a, b) => row[b]! - row[a]! || a - b).slice(0, 4);
      expect(top.results[0]!.tokens[index]!.top!.tokenIds).toEqual(best);
    });
  });
});

describe('StepwiseClient.scoreBatch', () => {
  it('answers each input, in order, as score does alone', async () => {
    const inputs = [
      { text: TEXT, targets: TEXT_TARGETS, entropy: true },
      { inputIds: [148, 149, 6, 1], targets: ID_TARGETS, topNAlternatives: 2 },
    ];
    const batch = await client.scoreBatch(inputs);
    expect(batch).toHaveLength(inputs.length);
    for (const [index, input] of inputs.entries()) {
      const alone = await client.score(input);
      expect(batch[index]!.inputIds).toEqual(alone.inputIds);
      batch[index]!.results.forEach((target, t) => {
        const single = alone.results[t]!;
        expect(target.tokenIds).toEqual(single.tokenIds);
        target.tokens.forEach((token, i) => {
          expect(Math.abs(token.logprob - single.tokens[i]!.logprob)).toBeLessThanOrEqual(GRAPH_TOLERANCE);
          expect(token.rank).toBe(single.tokens[i]!.rank);
        });
        expect(Math.abs(target.logprobSum - single.logprobSum)).toBeLessThanOrEqual(GRAPH_TOLERANCE * target.tokens.length);
      });
    }
  });
});

describe('refusals', () => {
  it('the server refuses an out-of-range target id with INVALID_ARGUMENT naming the field', async () => {
    const failure = await client.score({ text: TEXT, targets: [[1_000_000]] }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(StepwiseCallError);
    expect((failure as StepwiseCallError).code).toBe(status.INVALID_ARGUMENT);
    expect((failure as StepwiseCallError).rpc).toBe('Score');
    expect((failure as StepwiseCallError).details).toContain('`targets[0].token_ids.ids[0]` must be in [0, ');
  });

  it('a request with both inputs, neither, or no target throws before any call', async () => {
    await expect(client.score({ text: TEXT, inputIds: [1], targets: ['x'] })).rejects.toThrow(RangeError);
    await expect(client.score({ targets: ['x'] })).rejects.toThrow('exactly one of `text` and `inputIds`');
    await expect(client.scoreBatch([{ text: TEXT, targets: [] }])).rejects.toThrow('at least one target');
  });
});

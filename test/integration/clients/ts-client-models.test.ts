/**
 * The TypeScript client against a server of two models: `listModels` describes both, and `decode`,
 * `generate`, `getModelInfo`, `tokenize`, `detokenize` and `score` take the model to use by name (the default when
 * none is named); an unknown name fails with NOT_FOUND and the names served.
 */
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StepwiseCallError, StepwiseClient, type DecodedStep, type DecodeEvent } from '../../../clients/ts/index.js';
import { tinyModels } from '../../fixtures/models.js';
import { startTestServer, type TestServer } from '../../support/test-server.js';

const TEXT = 'translate English to German: The house is wonderful.';

let server: TestServer;
let client: StepwiseClient;

beforeAll(async () => {
  server = await startTestServer({
    models: [
      { name: 'tied', dir: tinyModels.reluTied },
      { name: 'padded', dir: tinyModels.padded },
    ],
  });
  client = new StepwiseClient(server.address);
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

describe('a server of several models', () => {
  it('listModels gives each model, the default first, described as getModelInfo does', async () => {
    const models = await client.listModels();
    expect(models.map(({ name, isDefault }) => ({ name, isDefault }))).toEqual([
      { name: 'tied', isDefault: true },
      { name: 'padded', isDefault: false },
    ]);
    expect(models[1]!.info).toEqual(await client.getModelInfo({ model: 'padded' }));
    expect(models[0]!.info).toEqual(await client.getModelInfo());
  });

  it('decode and generate run on the model named in the start, the default without one', async () => {
    const padded = await client.getModelInfo({ model: 'padded' });
    const tied = await client.getModelInfo();
    const steps: DecodedStep[] = await collect(client.decode({ text: TEXT, maxNewTokens: 2, model: 'padded' }));
    expect(steps[0]!.logits).toHaveLength(padded.vocabSize);
    const events: DecodeEvent[] = await collect(client.generate({ text: TEXT, maxNewTokens: 2 }));
    const started = events.find((event) => event.kind === 'started');
    expect(started).toMatchObject({ started: { modelName: 'tied', vocabSize: tied.vocabSize } });
  });

  it("tokenize and detokenize use the named model's tokenizer and bounds", async () => {
    const tied = await client.getModelInfo();
    const tokens = await client.tokenize('the green house', true, { model: 'padded' });
    expect(await client.detokenize(tokens.tokenIds, true, { model: 'padded' })).toBe('the green house');
    // An id past `tied`'s logits but within `padded`'s.
    await expect(client.detokenize([tied.vocabSize])).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
    expect(typeof (await client.detokenize([tied.vocabSize], false, { model: 'padded' }))).toBe('string');
  });

  it("score runs on the named model: its rows have that model's width", async () => {
    const padded = await client.getModelInfo({ model: 'padded' });
    const tied = await client.getModelInfo();
    expect(padded.vocabSize).not.toBe(tied.vocabSize);
    for (const [model, width] of [['padded', padded.vocabSize], [undefined, tied.vocabSize]] as const) {
      const scored = await client.score({ text: TEXT, targets: [[5, 6, 1]], rawLogits: 'float32', model });
      expect(scored.results[0]!.tokens.map((token) => token.logits?.length)).toEqual([width, width, width]);
    }
    await expect(client.score({ text: TEXT, targets: [[5]], model: 't5-large' })).rejects.toMatchObject({ code: status.NOT_FOUND });
  });

  it('an unknown model fails with NOT_FOUND, naming the models served', async () => {
    const error = await client.getModelInfo({ model: 't5-large' }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(StepwiseCallError);
    expect(error).toMatchObject({ code: status.NOT_FOUND, details: '`model` must be one of the served models "tied", "padded"; given "t5-large"' });
    await expect(collect(client.decode({ text: TEXT, maxNewTokens: 2, model: 't5-large' }))).rejects.toMatchObject({ code: status.NOT_FOUND });
    await expect(client.tokenize('a', true, { model: 't5-large' })).rejects.toMatchObject({ code: status.NOT_FOUND });
  });
});

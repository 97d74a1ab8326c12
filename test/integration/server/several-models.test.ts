/**
 * One server, two models (`tied` first, so the default, and `padded`, whose logits are wider): every request
 * that works on a model chooses it by name (`Start.model`, `ScoreRequest.model`, `TokenizeRequest.model`,
 * `DetokenizeRequest.model`, `GetModelInfoRequest.model`), an empty name is the default, an unknown one is
 * NOT_FOUND with the names served; `ListModels` describes both. Each model has its own thread and its own
 * scheduler (their run counts show whose steps ran where), and its own health service name.
 */
import { status as Status, type ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DecodeMode, LogitsFormat, type GetModelInfoResponse } from '../../../src/gen/stepwise/v1/stepwise.js';
import { StepScheduler } from '../../../src/runtime/step-scheduler.js';
import { WorkerModel } from '../../../src/runtime/worker/index.js';
import { tinyModels } from '../../fixtures/models.js';
import { DecodeStream, generateAll, unary, type StartInput } from '../../support/decode-client.js';
import { startTestServer, type TestServer } from '../../support/test-server.js';

const SERVICE = 'stepwise.v1.StepwiseService';
const INPUT: StartInput['input'] = { $case: 'text', value: 'translate English to German: the green house' };
const NOT_FOUND_LIST = 'must be one of the served models "tied", "padded"; given "t5-large"';

let server: TestServer;
let tiedInfo: GetModelInfoResponse;
let paddedInfo: GetModelInfoResponse;

/** A model's scheduler (the runtime the catalog holds). */
function schedulerOf(name: string): StepScheduler {
  const runtime = server.app.catalog.resolve(name).runtime;
  if (!(runtime instanceof StepScheduler)) throw new Error('each model is expected behind its own StepScheduler');
  return runtime;
}

function workerOf(name: string): WorkerModel {
  const inner = schedulerOf(name).inner;
  if (!(inner instanceof WorkerModel)) throw new Error('each model is expected on its own model thread');
  return inner;
}

async function failure(call: Promise<unknown>): Promise<{ code: number; details: string }> {
  const error = (await call.then(
    () => undefined,
    (caught: ServiceError) => caught,
  )) as ServiceError | undefined;
  if (error === undefined) throw new Error('the call succeeded');
  return { code: error.code, details: error.details };
}

beforeAll(async () => {
  server = await startTestServer({
    models: [
      { name: 'tied', dir: tinyModels.reluTied },
      { name: 'padded', dir: tinyModels.padded },
    ],
    load: { restartDelayMs: 10 },
  });
  tiedInfo = await unary(server.client, 'getModelInfo', { model: 'tied' });
  paddedInfo = await unary(server.client, 'getModelInfo', { model: 'padded' });
});
afterAll(async () => server?.stop());

describe('GetModelInfo and ListModels', () => {
  it('describe each model under its own name; the empty name is the first model', async () => {
    expect(tiedInfo.name).toBe('tied');
    expect(paddedInfo.name).toBe('padded');
    expect(paddedInfo.vocabSize).toBeGreaterThan(tiedInfo.vocabSize);
    expect(await unary(server.client, 'getModelInfo', {})).toEqual(tiedInfo);
    expect(tiedInfo).toMatchObject({ dtype: 'fp32', decoderLayout: 'merged', config: { modelType: 't5', feedForwardProj: 'relu' } });
  });

  it('ListModels gives every model in order, the default marked, each described as GetModelInfo does', async () => {
    const { models } = await unary(server.client, 'listModels', {});
    expect(models).toEqual([
      { name: 'tied', isDefault: true, info: tiedInfo },
      { name: 'padded', isDefault: false, info: paddedInfo },
    ]);
  });

  it('an unknown name is NOT_FOUND, listing the names served', async () => {
    expect(await failure(unary(server.client, 'getModelInfo', { model: 't5-large' }))).toEqual({
      code: Status.NOT_FOUND,
      details: `\`model\` ${NOT_FOUND_LIST}`,
    });
  });
});

describe('Decode and Generate', () => {
  it('decode with the model Start.model names, the default without one', async () => {
    const stream = { rawLogits: LogitsFormat.LOGITS_FORMAT_FLOAT32 };
    const padded = await generateAll(server.client, { input: INPUT, maxNewTokens: 3, model: 'padded', stream });
    const tied = await generateAll(server.client, { input: INPUT, maxNewTokens: 3, stream });
    for (const [result, info] of [
      [padded, paddedInfo],
      [tied, tiedInfo],
    ] as const) {
      expect(result.status.code).toBe(Status.OK);
      const started = result.messages.find((message) => message.$case === 'started')!.value as { modelName: string; vocabSize: number };
      expect(started).toMatchObject({ modelName: info.name, vocabSize: info.vocabSize });
      const logits = result.messages.find((message) => message.$case === 'logits')!.value as { raw: { shape: number[] } };
      expect(logits.raw.shape).toEqual([info.vocabSize]);
    }
  });

  it('a Decode naming an unknown model ends with NOT_FOUND, listing the names served', async () => {
    const stream = DecodeStream.open(server.client);
    stream.start({ input: INPUT, model: 't5-large' });
    const { status } = await stream.drain();
    stream.call.end();
    expect(status).toEqual({ code: Status.NOT_FOUND, details: `\`model\` ${NOT_FOUND_LIST}` });
  });

  it("one model's steps run on its own scheduler: a stream held on one does not hold up the other", async () => {
    const tied = schedulerOf('tied');
    const padded = schedulerOf('padded');
    expect(workerOf('tied')).not.toBe(workerOf('padded'));
    // A LOCKSTEP stream on `tied` waits for its step-0 decision, its state live at position 0 ...
    const held = DecodeStream.open(server.client);
    held.start({ input: INPUT, minNewTokens: 4, maxNewTokens: 4, model: 'tied' });
    await held.expect('started');
    await held.expect('logits');
    const before = { tied: tied.stats.steps, padded: padded.stats.steps };
    // ... while a whole Generate on `padded` runs, step by step, on `padded`'s scheduler alone.
    const generated = await generateAll(server.client, { input: INPUT, minNewTokens: 12, maxNewTokens: 12, model: 'padded' });
    expect(generated.status.code).toBe(Status.OK);
    expect(padded.stats.steps - before.padded).toBe(12);
    expect(tied.stats.steps - before.tied).toBe(0);
    expect(tied.liveStates).toBe(1);
    held.stop();
    await held.drain();
    held.call.end();
  });

  it('streams on both models at once all finish, each model counting exactly its own steps', async () => {
    const tied = schedulerOf('tied');
    const padded = schedulerOf('padded');
    const before = { tied: tied.stats.steps, padded: padded.stats.steps };
    const start = (model: string, tokens: number) => ({ input: INPUT, minNewTokens: tokens, maxNewTokens: tokens, model, mode: DecodeMode.DECODE_MODE_AUTO });
    const results = await Promise.all([
      generateAll(server.newClient(), start('tied', 10)),
      generateAll(server.newClient(), start('padded', 7)),
      generateAll(server.newClient(), start('padded', 7)),
      generateAll(server.newClient(), start('', 10)),
    ]);
    for (const result of results) expect(result.status.code).toBe(Status.OK);
    expect(tied.stats.steps - before.tied).toBe(20);
    expect(padded.stats.steps - before.padded).toBe(14);
    await server.settled();
  });
});

describe('Tokenize, Detokenize and Score', () => {
  it("Tokenize and Detokenize use the named model's tokenizer and bounds", async () => {
    const tokens = await unary(server.client, 'tokenize', { text: 'the green house', model: 'padded' });
    expect(tokens.tokenIds.length).toBeGreaterThan(1);
    expect(await unary(server.client, 'detokenize', { tokenIds: tokens.tokenIds, model: 'padded', skipSpecialTokens: true })).toEqual({ text: 'the green house' });
    // An id past `tied`'s logits but within `padded`'s: the named model's bound applies.
    const wide = [tiedInfo.vocabSize];
    expect((await failure(unary(server.client, 'detokenize', { tokenIds: wide }))).code).toBe(Status.INVALID_ARGUMENT);
    expect(await unary(server.client, 'detokenize', { tokenIds: wide, model: 'padded' })).toEqual({ text: expect.any(String) });
  });

  it('Tokenize and Detokenize naming an unknown model are NOT_FOUND', async () => {
    expect(await failure(unary(server.client, 'tokenize', { text: 'a', model: 't5-large' }))).toEqual({ code: Status.NOT_FOUND, details: `\`model\` ${NOT_FOUND_LIST}` });
    expect((await failure(unary(server.client, 'detokenize', { tokenIds: [5], model: 't5-large' }))).code).toBe(Status.NOT_FOUND);
  });

  it('Score runs on the named model: its rows are that model’s width, counted by its scheduler', async () => {
    const padded = schedulerOf('padded');
    const runs = padded.stats.scoreRuns;
    const request = { input: INPUT, targets: [{ target: { $case: 'text' as const, value: 'das Haus' } }], rawLogits: LogitsFormat.LOGITS_FORMAT_FLOAT32 };
    const scored = await unary(server.client, 'score', { ...request, model: 'padded' });
    expect(padded.stats.scoreRuns).toBe(runs + 1);
    const row = scored.results[0]!.tokens[0]!.raw!;
    expect(row.shape).toEqual([paddedInfo.vocabSize]);
    const byDefault = await unary(server.client, 'score', request);
    expect(byDefault.results[0]!.tokens[0]!.raw!.shape).toEqual([tiedInfo.vocabSize]);
    expect(await failure(unary(server.client, 'score', { ...request, model: 't5-large' }))).toEqual({ code: Status.NOT_FOUND, details: `\`model\` ${NOT_FOUND_LIST}` });
  });

  it('the requests of one ScoreBatch must choose one model', async () => {
    const request = { input: INPUT, targets: [{ target: { $case: 'text' as const, value: 'das Haus' } }] };
    const both = await unary(server.client, 'scoreBatch', { requests: [{ ...request, model: 'padded' }, { ...request, model: 'padded' }] });
    expect(both.responses).toHaveLength(2);
    expect(await failure(unary(server.client, 'scoreBatch', { requests: [request, { ...request, model: 'padded' }] }))).toEqual({
      code: Status.INVALID_ARGUMENT,
      details: '`requests[1].model` must choose the same model as `requests[0].model` ("tied"): one batch runs on one model; given "padded"',
    });
    expect((await failure(unary(server.client, 'scoreBatch', { requests: [request, { ...request, model: 't5-large' }] }))).details).toBe(
      `\`requests[1].model\` ${NOT_FOUND_LIST}`,
    );
  });
});

describe('health per model', () => {
  it('each model has its own service name; one model restarting leaves the other SERVING', async () => {
    expect(await server.health(`${SERVICE}/tied`)).toBe('SERVING');
    expect(await server.health(`${SERVICE}/padded`)).toBe('SERVING');
    const padded = server.watchHealth(`${SERVICE}/padded`);
    const whole = server.watchHealth('');
    expect(await padded.next()).toBe('SERVING');
    expect(await whole.next()).toBe('SERVING');

    await workerOf('padded').terminateThread();
    expect(await padded.next()).toBe('NOT_SERVING');
    expect(await whole.next()).toBe('NOT_SERVING');
    expect(await server.health(`${SERVICE}/tied`)).toBe('SERVING');
    // The other model serves on while this one restarts.
    const generated = await generateAll(server.client, { input: INPUT, maxNewTokens: 3, model: 'tied' });
    expect(generated.status.code).toBe(Status.OK);

    expect(await padded.next()).toBe('SERVING');
    expect(await whole.next()).toBe('SERVING');
    expect(await server.health(SERVICE)).toBe('SERVING');
    padded.close();
    whole.close();
    expect((await generateAll(server.client, { input: INPUT, maxNewTokens: 3, model: 'padded' })).status.code).toBe(Status.OK);
  });
});

/**
 * Fuzzing every RPC of `stepwise.v1` against a live server (fast-check): well-formed requests with extreme
 * values in every field (huge and zero counts, unknown enum values, NaN and infinite floats, random
 * processors and parameters, long and odd Unicode texts, decisions in any order) and requests of random
 * bytes. Every answer must be OK or one of the documented statuses, never INTERNAL or UNKNOWN; afterwards
 * the server is alive, health says SERVING and nothing is left open.
 *
 * `STEPWISE_FUZZ_RUNS` raises the number of runs per RPC (default 60), `STEPWISE_FUZZ_REPORT=FILE` writes
 * the count of each status there.
 */
import { writeFileSync } from 'node:fs';
import { credentials, makeGenericClientConstructor, Metadata, status as Status, type ServiceError } from '@grpc/grpc-js';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DecodeRequest, type DecodeRequest as DecodeRequestType, type StepDecision } from '../../../src/gen/stepwise/v1/stepwise.js';
import { BUILTIN_PROCESSORS } from '../../../src/processors/index.js';
import { tinyModels } from '../../fixtures/models.js';
import { DecodeStream, generateAll, unary, type StartInput } from '../../support/decode-client.js';
import { startTestServer, type TestServer } from '../../support/test-server.js';
import { wireValue } from '../../support/wire-params.js';

const RUNS = Number(process.env.STEPWISE_FUZZ_RUNS ?? 60);
const DOCUMENTED = new Set([
  Status.OK,
  Status.INVALID_ARGUMENT,
  Status.OUT_OF_RANGE,
  Status.FAILED_PRECONDITION,
  Status.RESOURCE_EXHAUSTED,
  Status.DEADLINE_EXCEEDED,
  // A request naming a model the server does not host (`model` fields).
  Status.NOT_FOUND,
]);
const counts = new Map<string, number>();

function record(rpc: string, code: Status, details: string): void {
  const key = `${rpc} ${Status[code]}`;
  counts.set(key, (counts.get(key) ?? 0) + 1);
  expect(DOCUMENTED.has(code), `${rpc} answered ${Status[code]}: ${details}`).toBe(true);
}

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ modelDir: tinyModels.reluTied, limits: { maxNewTokens: 24, maxConcurrentStreams: 8 } });
});
afterAll(async () => {
  if (process.env.STEPWISE_FUZZ_REPORT !== undefined) {
    writeFileSync(process.env.STEPWISE_FUZZ_REPORT, JSON.stringify(Object.fromEntries([...counts].sort()), null, 2));
  }
  await server?.stop();
});

const extremeInt = fc.oneof(fc.constantFrom(0, 1, 2, 5, 605, 606, 607, 2 ** 31 - 1, 2 ** 32 - 1), fc.nat({ max: 2 ** 32 - 1 }));
const smallCount = fc.integer({ min: 0, max: 40 });
const enumValue = fc.oneof(fc.constantFrom(0, 1, 2, 3, 4, 5), fc.integer({ min: -5, max: 1000 }));
const anyFloat = fc.oneof(fc.double(), fc.constantFrom(Number.NaN, Infinity, -Infinity, 0, -0, 1e-45, 3.4e38, 2));
const text = fc.oneof(fc.string({ maxLength: 60 }), fc.string({ unit: 'binary', maxLength: 60 }), fc.string({ unit: 'grapheme', maxLength: 30 }), fc.constant(''));
const ids = fc.array(extremeInt, { maxLength: 12 });

/** Any parameter value of the wire's kinds, nested lists included. */
const paramValue: fc.Arbitrary<Parameters<typeof wireValue>[0]> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    extremeInt,
    fc.integer({ min: -1000, max: 1000 }),
    fc.boolean(),
    text,
    fc.array(tie('value'), { maxLength: 4 }),
  ),
})).value as fc.Arbitrary<Parameters<typeof wireValue>[0]>;

const names = [...BUILTIN_PROCESSORS.map((definition) => definition.name), 'no_such_processor', ''];
const processorSpec = fc.record({
  name: fc.oneof(fc.constantFrom(...names), text),
  params: fc.dictionary(fc.oneof(fc.constantFrom('top_k', 'top_p', 'temperature', 'token_ids', 'choices', 'pattern', 'min_new_tokens', 'sequence_bias', 'bad_words_ids', 'step', 'token_id'), text), paramValue, { maxKeys: 3 }),
}).map(({ name, params }) => ({ name, params: Object.fromEntries(Object.entries(params).map(([key, value]) => [key, wireValue(value)])) }));

/** Processors that build, with plausible parameters: requests that get past validation into decoding. */
const sensibleProcessor = fc.oneof(
  fc.integer({ min: 1, max: 50 }).map((k) => ({ name: 'top_k', params: { top_k: wireValue(k) } })),
  fc.double({ min: 0.1, max: 3, noNaN: true }).map((t) => ({ name: 'temperature', params: { temperature: wireValue(t) } })),
  fc.double({ min: 0.5, max: 2, noNaN: true }).map((p) => ({ name: 'repetition_penalty', params: { repetition_penalty: wireValue(p) } })),
  fc.array(fc.integer({ min: 0, max: 605 }), { minLength: 1, maxLength: 5 }).map((list) => ({ name: 'ban_tokens', params: { token_ids: wireValue(list) } })),
  fc.double({ min: 0.05, max: 0.95, noNaN: true }).map((p) => ({ name: 'typical_p', params: { typical_p: wireValue(p) } })),
  fc.constant({ name: 'regex', params: { pattern: wireValue('[a-z ]{0,12}') } }),
);

/** Valid starts with varied settings: they decode, so decisions and pipeline changes reach the session. */
const sensibleStart: fc.Arbitrary<StartInput> = fc.record({
  input: fc.oneof(
    fc.string({ maxLength: 40 }).map((value) => ({ $case: 'text' as const, value })),
    fc.array(fc.integer({ min: 0, max: 605 }), { minLength: 1, maxLength: 10 }).map((list) => ({ $case: 'tokenIds' as const, value: { ids: list } })),
  ),
  maxNewTokens: fc.integer({ min: 1, max: 24 }),
  processors: fc.uniqueArray(sensibleProcessor, { maxLength: 3, selector: (spec) => spec.name }),
  selection: fc.record({ mode: fc.constantFrom(0, 1, 2), seed: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) }),
  stream: fc.record({ rawLogits: fc.constantFrom(0, 1, 2, 4), processedScores: fc.boolean(), topNAlternatives: fc.integer({ min: 0, max: 5 }), entropy: fc.boolean() }),
  mode: fc.constantFrom(0, 1, 2),
}) as fc.Arbitrary<StartInput>;

const wildStart: fc.Arbitrary<StartInput> = fc.record(
  {
    input: fc.oneof(
      text.map((value) => ({ $case: 'text' as const, value })),
      ids.map((list) => ({ $case: 'tokenIds' as const, value: { ids: list } })),
    ),
    decoderPrefixIds: ids,
    maxNewTokens: fc.oneof(fc.constantFrom(0, 1, 3, 24, 25), extremeInt),
    minNewTokens: fc.oneof(fc.constantFrom(0, 1, 3, 24), extremeInt),
    stopStrings: fc.array(text, { maxLength: 3 }),
    stopTokenSequences: fc.array(ids.map((list) => ({ ids: list })), { maxLength: 3 }),
    processors: fc.array(processorSpec, { maxLength: 4 }),
    generationConfig: fc.record(
      { doSample: fc.boolean(), temperature: anyFloat, topK: extremeInt, topP: anyFloat, repetitionPenalty: anyFloat, noRepeatNgramSize: extremeInt, minLength: extremeInt },
      { requiredKeys: [] },
    ),
    selection: fc.record({ mode: enumValue, seed: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) }, { requiredKeys: [] }),
    stream: fc.record({ rawLogits: enumValue, rawTopK: extremeInt, processedScores: fc.boolean(), topNAlternatives: fc.oneof(smallCount, extremeInt), entropy: fc.boolean() }, { requiredKeys: [] }),
    mode: enumValue,
  },
  { requiredKeys: [] },
) as fc.Arbitrary<StartInput>;

const start = fc.oneof({ weight: 3, arbitrary: sensibleStart }, { weight: 1, arbitrary: wildStart });

const decision: fc.Arbitrary<Partial<StepDecision>> = fc.record(
  {
    step: fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 0, max: 6 }) }, { weight: 1, arbitrary: extremeInt }),
    action: fc.oneof(
      fc.constant({ $case: 'accept' as const, value: {} }),
      extremeInt.map((tokenId) => ({ $case: 'forceToken' as const, value: { tokenId } })),
      ids.map((tokenIds) => ({ $case: 'forceTokens' as const, value: { tokenIds } })),
      fc.oneof(fc.integer({ min: 0, max: 4 }), extremeInt).map((count) => ({ $case: 'rewind' as const, value: { count } })),
    ),
    pipelineChanges: fc.array(
      fc.record({
        change: fc.oneof(
          fc.record({ processor: processorSpec, index: fc.option(extremeInt, { nil: undefined }) }).map((value) => ({ $case: 'add' as const, value })),
          processorSpec.map((value) => ({ $case: 'replace' as const, value })),
          fc.oneof(fc.constantFrom(...names), text).map((value) => ({ $case: 'remove' as const, value })),
        ),
        scope: enumValue,
      }),
      { maxLength: 2 },
    ),
  },
  { requiredKeys: ['action'] },
) as fc.Arbitrary<Partial<StepDecision>>;

/** What a client sends on a Decode stream: a start (or not) and then messages of any kind, in any order. */
const clientMessages: fc.Arbitrary<NonNullable<DecodeRequestType['message']>[]> = fc.array(
  fc.oneof(
    { weight: 1, arbitrary: start.map((value) => ({ $case: 'start' as const, value: DecodeRequest.fromPartial({ message: { $case: 'start', value } }).message!.value as never })) },
    { weight: 8, arbitrary: decision.map((value) => ({ $case: 'decision' as const, value: value as StepDecision })) },
    { weight: 1, arbitrary: fc.constant({ $case: 'stop' as const, value: { branch: 0 } }) },
  ),
  { maxLength: 8 },
);

const deadline = () => new Date(Date.now() + 10_000);

describe('fuzzed requests get a documented status', () => {
  it('Generate', async () => {
    await fc.assert(
      fc.asyncProperty(start, async (request) => {
        const { status } = await generateAll(server.client, request, { deadline: deadline() });
        record('Generate', status.code, status.details);
      }),
      { numRuns: RUNS },
    );
  });

  it('Decode, with a start and messages in any order', async () => {
    await fc.assert(
      fc.asyncProperty(start, clientMessages, async (first, rest) => {
        const stream = DecodeStream.open(server.client, { deadline: deadline() });
        stream.start(first);
        for (const message of rest) stream.send({ message } as Parameters<typeof stream.send>[0]);
        stream.call.end();
        const { status } = await stream.drain();
        record('Decode', status.code, status.details);
      }),
      { numRuns: RUNS },
    );
  });

  it('Tokenize, Detokenize, GetModelInfo and ListProcessors', async () => {
    const call = async (rpc: 'tokenize' | 'detokenize' | 'getModelInfo' | 'listProcessors', request: object) => {
      try {
        await unary(server.client, rpc, request as never);
        record(rpc, Status.OK, '');
      } catch (error) {
        const failed = error as ServiceError;
        record(rpc, failed.code, failed.details);
      }
    };
    await fc.assert(
      fc.asyncProperty(text, fc.option(fc.boolean(), { nil: undefined }), ids, fc.boolean(), async (value, addSpecial, list, skip) => {
        await call('tokenize', { text: value, addSpecialTokens: addSpecial });
        await call('detokenize', { tokenIds: list, skipSpecialTokens: skip });
        await call('getModelInfo', {});
        await call('listProcessors', {});
      }),
      { numRuns: RUNS },
    );
  });

  it('Score and ScoreBatch', async () => {
    const target = fc.oneof(
      text.map((value) => ({ target: { $case: 'text' as const, value } })),
      ids.map((list) => ({ target: { $case: 'tokenIds' as const, value: { ids: list } } })),
      fc.constant({}),
    );
    /** Requests that pass validation, so that fuzzed ones share scoring runs with them. */
    const sensibleScore = fc.record({
      input: fc.string({ maxLength: 40 }).map((value) => ({ $case: 'text' as const, value })),
      targets: fc.array(
        fc.array(fc.integer({ min: 0, max: 605 }), { minLength: 1, maxLength: 8 }).map((list) => ({ target: { $case: 'tokenIds' as const, value: { ids: list } } })),
        { minLength: 1, maxLength: 4 },
      ),
      topNAlternatives: fc.integer({ min: 0, max: 5 }),
      entropy: fc.boolean(),
      rawLogits: fc.constantFrom(0, 1, 2, 4),
    });
    const wildScore = fc.record(
      {
        input: fc.oneof(
          text.map((value) => ({ $case: 'text' as const, value })),
          ids.map((list) => ({ $case: 'tokenIds' as const, value: { ids: list } })),
        ),
        targets: fc.array(target, { maxLength: 6 }),
        decoderPrefixIds: fc.array(extremeInt, { maxLength: 3 }),
        topNAlternatives: fc.oneof(smallCount, extremeInt),
        entropy: fc.boolean(),
        rawLogits: enumValue,
        rawTopK: extremeInt,
      },
      { requiredKeys: [] },
    );
    const scoreRequest = fc.oneof({ weight: 2, arbitrary: sensibleScore }, { weight: 1, arbitrary: wildScore });
    const call = async (rpc: 'score' | 'scoreBatch', request: object) => {
      try {
        await unary(server.client, rpc, request as never);
        record(rpc, Status.OK, '');
      } catch (error) {
        const failed = error as ServiceError;
        record(rpc, failed.code, failed.details);
      }
    };
    await fc.assert(
      fc.asyncProperty(scoreRequest, fc.array(scoreRequest, { maxLength: 3 }), async (request, requests) => {
        await call('score', request);
        await call('scoreBatch', { requests });
      }),
      { numRuns: RUNS },
    );
  });

  it('random bytes as the request of every method', async () => {
    const methods = ['Decode', 'Generate', 'GetModelInfo', 'ListProcessors', 'Tokenize', 'Detokenize', 'Score', 'ScoreBatch', 'ListModels'] as const;
    const raw = (name: string, stream: { request: boolean; response: boolean }) => ({
      path: `/stepwise.v1.StepwiseService/${name}`,
      requestStream: stream.request,
      responseStream: stream.response,
      requestSerialize: (bytes: Buffer) => bytes,
      requestDeserialize: (bytes: Buffer) => bytes,
      responseSerialize: (bytes: Buffer) => bytes,
      responseDeserialize: (bytes: Buffer) => bytes,
    });
    const Client = makeGenericClientConstructor(
      {
        Decode: raw('Decode', { request: true, response: true }),
        Generate: raw('Generate', { request: false, response: true }),
        GetModelInfo: raw('GetModelInfo', { request: false, response: false }),
        ListProcessors: raw('ListProcessors', { request: false, response: false }),
        Tokenize: raw('Tokenize', { request: false, response: false }),
        Detokenize: raw('Detokenize', { request: false, response: false }),
        Score: raw('Score', { request: false, response: false }),
        ScoreBatch: raw('ScoreBatch', { request: false, response: false }),
        ListModels: raw('ListModels', { request: false, response: false }),
      },
      'RawStepwise',
    );
    const client = new Client(server.address, credentials.createInsecure()) as unknown as Record<string, (...args: unknown[]) => NodeJS.EventEmitter & { write?(b: Buffer): void; end?(): void }>;
    try {
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...methods), fc.uint8Array({ maxLength: 300 }), async (method, bytes) => {
          const payload = Buffer.from(bytes);
          const code = await new Promise<{ code: Status; details: string }>((resolve) => {
            const done = (error: ServiceError | null) => resolve(error === null ? { code: Status.OK, details: '' } : { code: error.code, details: error.details });
            const options = { deadline: deadline() };
            if (method === 'Decode') {
              const call = client.Decode!(new Metadata(), options);
              call.on('data', () => {});
              call.on('error', done);
              call.on('status', (status: { code: Status; details: string }) => status.code === Status.OK && resolve(status));
              call.write!(payload);
              call.end!();
            } else if (method === 'Generate') {
              const call = client.Generate!(payload, new Metadata(), options);
              call.on('data', () => {});
              call.on('error', done);
              call.on('status', (status: { code: Status; details: string }) => status.code === Status.OK && resolve(status));
            } else {
              client[method]!(payload, new Metadata(), options, (error: ServiceError | null) => done(error));
            }
          });
          record(`${method} (random bytes)`, code.code, code.details);
        }),
        { numRuns: RUNS * 2 },
      );
    } finally {
      (client as unknown as { close(): void }).close();
    }
  });

  it('afterwards the server is alive, SERVING, and has nothing open', async () => {
    expect(await server.health()).toBe('SERVING');
    await server.settled();
    expect(counts.size).toBeGreaterThan(0);
  });
});

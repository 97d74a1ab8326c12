/**
 * Every malformed or out-of-bounds request ends its own stream with a precise status (code, and a message
 * naming the field, the bound and the value given); other streams go on and the server stays SERVING.
 */
import { Metadata, status as Status, type ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DecodeMode,
  DecodeResponse,
  FinishReason,
  LogitsFormat,
  PipelineScope,
  SelectionMode,
} from '../../../src/gen/stepwise/v1/stepwise.js';
import { tinyModels } from '../../fixtures/models.js';
import { DecodeStream, generateAll, unary, type CallStatus, type StartInput } from '../../support/decode-client.js';
import { ACCEPT, runLockstep } from '../../support/lockstep.js';
import { startTestServer, type TestServer } from '../../support/test-server.js';

const LIMITS = { maxInputTokens: 8, maxNewTokens: 40, maxConcurrentStreams: 8 };
const VOCAB = 606;
const TEXT = { $case: 'text', value: 'the green house' } as const;

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ modelDir: tinyModels.reluTied, limits: LIMITS });
});
afterAll(async () => server?.stop());

function expectStatus(status: CallStatus, code: Status, ...fragments: string[]): void {
  expect({ code: Status[status.code], details: status.details }).toMatchObject({ code: Status[code] });
  for (const fragment of fragments) expect(status.details).toContain(fragment);
}

/** Opens a Decode stream with `start` and returns its final status (after reading everything). */
async function startStatus(start: StartInput): Promise<CallStatus> {
  const stream = DecodeStream.open(server.client);
  stream.start(start);
  const { status } = await stream.drain();
  stream.call.end();
  return status;
}

/** A lockstep stream that answers its first step with `decision` (or the decisions of `answer`). */
async function decisionStatus(
  start: StartInput,
  answer: (step: number) => Parameters<DecodeStream['decide']>[0],
  steps = 1,
): Promise<CallStatus> {
  const stream = DecodeStream.open(server.client);
  stream.start(start);
  await stream.expect('started');
  for (let step = 0; step < steps; step++) {
    await stream.expect('logits');
    stream.decide(answer(step));
    if (step < steps - 1) await stream.expect('token');
  }
  const { status } = await stream.drain();
  stream.call.end();
  return status;
}

describe('protocol violations', () => {
  it('a decision before start is FAILED_PRECONDITION', async () => {
    const stream = DecodeStream.open(server.client);
    stream.decide({ step: 0, action: ACCEPT });
    const { status } = await stream.drain();
    stream.call.end();
    expectStatus(status, Status.FAILED_PRECONDITION, 'first message must be `start`', '`decision`');
  });

  it('a second start is FAILED_PRECONDITION', async () => {
    const stream = DecodeStream.open(server.client);
    stream.start({ input: TEXT });
    await stream.expect('started');
    await stream.expect('logits');
    stream.start({ input: TEXT });
    const { status } = await stream.drain();
    stream.call.end();
    expectStatus(status, Status.FAILED_PRECONDITION, '`start` may be sent only once', 'step 0');
  });

  it('a decision for another step than the one awaiting is FAILED_PRECONDITION naming both steps', async () => {
    const status = await decisionStatus({ input: TEXT }, () => ({ step: 3, action: ACCEPT }));
    expectStatus(status, Status.FAILED_PRECONDITION, '`decision.step` must be 0', 'given 3');
  });

  it('a decision without an action is INVALID_ARGUMENT', async () => {
    const status = await decisionStatus({ input: TEXT }, () => ({ step: 0 }));
    expectStatus(status, Status.INVALID_ARGUMENT, '`decision.action` must be set');
  });

  it('the client closing before start is FAILED_PRECONDITION', async () => {
    const stream = DecodeStream.open(server.client);
    stream.call.end();
    const { status } = await stream.drain();
    expectStatus(status, Status.FAILED_PRECONDITION, 'before sending `start`');
  });

  it('bytes that are not a DecodeRequest are INVALID_ARGUMENT naming the type', async () => {
    const call = server.client.makeBidiStreamRequest(
      '/stepwise.v1.StepwiseService/Decode',
      (bytes: Buffer) => bytes,
      (bytes: Buffer) => DecodeResponse.decode(bytes),
      new Metadata(),
    );
    const status = new Promise<CallStatus>((resolve) => {
      call.on('error', (error: ServiceError) => resolve({ code: error.code, details: error.details }));
      call.on('data', () => undefined);
    });
    call.write(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]));
    expectStatus(await status, Status.INVALID_ARGUMENT, 'not a valid stepwise.v1.DecodeRequest');
    call.end();
  });

  it('a message after the stream finished is ignored: the call already ended with OK', async () => {
    const stream = DecodeStream.open(server.client);
    stream.start({ input: TEXT, maxNewTokens: 1 });
    await stream.expect('started');
    await stream.expect('logits');
    stream.decide({ step: 0, action: ACCEPT });
    await stream.expect('token');
    const finished = await stream.expect('finished');
    stream.decide({ step: 1, action: ACCEPT });
    stream.call.end();
    expect(finished.reason).toBe(FinishReason.FINISH_REASON_MAX_NEW_TOKENS);
    expect((await stream.status).code).toBe(Status.OK);
    expect(await stream.next()).toBeUndefined();
  });
});

describe('invalid start', () => {
  const cases: Array<[label: string, start: StartInput, ...fragments: string[]]> = [
    ['no input', { maxNewTokens: 2 }, '`input` must be set'],
    ['empty token ids', { input: { $case: 'tokenIds', value: { ids: [] } } }, '`token_ids.ids` must hold at least one id; given 0'],
    ['an input id outside the vocabulary', { input: { $case: 'tokenIds', value: { ids: [5, 606, 1] } } }, '`token_ids.ids[1]` must be in [0, 606); given 606'],
    ['max_new_tokens above the limit', { input: TEXT, maxNewTokens: 41 }, '`max_new_tokens` must be in [1, 40]', 'given 41'],
    ['min_new_tokens above max_new_tokens', { input: TEXT, maxNewTokens: 5, minNewTokens: 6 }, '`min_new_tokens` must be in [0, 5]', 'given 6'],
    ['a decoder prefix id outside the vocabulary', { input: TEXT, decoderPrefixIds: [700] }, '`decoder_prefix_ids[0]` must be in [0, 606); given 700'],
    ['an empty stop string', { input: TEXT, stopStrings: [''] }, '`stop_strings[0]` must not be empty'],
    ['TOP_K without raw_top_k', { input: TEXT, stream: { rawLogits: LogitsFormat.LOGITS_FORMAT_TOP_K } }, '`stream.raw_top_k` must be in [1, 606]', 'given 0'],
    ['too many alternatives', { input: TEXT, stream: { topNAlternatives: 65 } }, '`stream.top_n_alternatives` must be in [0, 64]', 'given 65'],
    ['an unknown processor', { input: TEXT, processors: [{ name: 'no_such_thing' }] }, '`processors[0]`', 'no_such_thing'],
    [
      'an out-of-range processor parameter',
      { input: TEXT, processors: [{ name: 'temperature', params: { temperature: { kind: { $case: 'floatValue', value: 0.5 } } } }, { name: 'top_p', params: { top_p: { kind: { $case: 'floatValue', value: 1.5 } } } }] },
      '`processors[1]`', '`top_p` must be in (0, 1]', 'given 1.5',
    ],
    ['a processor named twice', { input: TEXT, processors: [{ name: 'top_k', params: { top_k: { kind: { $case: 'intValue', value: 3n } } } }, { name: 'top_k', params: { top_k: { kind: { $case: 'intValue', value: 4n } } } }] }, '`processors[1].name`', 'top_k'],
    ['a sampling setting with greedy selection', { input: TEXT, generationConfig: { topP: 0.5 } }, '`generation_config.top_p`', 'greedily'],
    ['greedy selection with do_sample', { input: TEXT, selection: { mode: SelectionMode.SELECTION_MODE_GREEDY }, generationConfig: { doSample: true } }, '`selection.mode` GREEDY contradicts `generation_config.do_sample`'],
  ];
  it.each(cases)('%s is INVALID_ARGUMENT naming the field', async (_label, start, ...fragments) => {
    expectStatus(await startStatus(start), Status.INVALID_ARGUMENT, ...fragments);
  });

  it('an input longer than max_input_tokens is INVALID_ARGUMENT with the limit and the length', async () => {
    const status = await startStatus({ input: { $case: 'text', value: 'the cat sat on the mat and looked at the house' } });
    expectStatus(status, Status.INVALID_ARGUMENT, '`text` must encode to at most 8 tokens', 'given 1');
    const ids = await startStatus({ input: { $case: 'tokenIds', value: { ids: [5, 6, 7, 8, 9, 10, 11, 12, 1] } } });
    expectStatus(ids, Status.INVALID_ARGUMENT, '`token_ids.ids` must hold at most 8 ids', 'given 9');
  });

  it('Generate refuses LOCKSTEP, which needs decisions it cannot receive', async () => {
    const { status } = await generateAll(server.client, { input: TEXT, mode: DecodeMode.DECODE_MODE_LOCKSTEP });
    expectStatus(status, Status.INVALID_ARGUMENT, '`mode` must be AUTO', 'LOCKSTEP');
  });
});

describe('invalid decisions', () => {
  it('a forced id outside [0, vocab_size) is INVALID_ARGUMENT', async () => {
    const status = await decisionStatus({ input: TEXT }, () => ({ step: 0, action: { $case: 'forceToken', value: { tokenId: VOCAB } } }));
    expectStatus(status, Status.INVALID_ARGUMENT, '`decision.force_token.token_id` must be in [0, 606); given 606');
  });

  it('a forced run longer than the tokens left is INVALID_ARGUMENT', async () => {
    const status = await decisionStatus({ input: TEXT, maxNewTokens: 3 }, () => ({
      step: 0,
      action: { $case: 'forceTokens', value: { tokenIds: [5, 6, 7, 8] } },
    }));
    expectStatus(status, Status.INVALID_ARGUMENT, '`decision.force_tokens.token_ids` must hold [1, 3] ids', 'given 4');
  });

  it('rewinding more tokens than were generated is OUT_OF_RANGE', async () => {
    const status = await decisionStatus(
      { input: TEXT, maxNewTokens: 10, minNewTokens: 10 },
      (step) => (step < 2 ? { step, action: ACCEPT } : { step, action: { $case: 'rewind', value: { count: 3 } } }),
      3,
    );
    expectStatus(status, Status.OUT_OF_RANGE, '`decision.rewind.count` must be in [1, 2]', 'given 3');
  });

  it('replacing a processor that is not in the pipeline is INVALID_ARGUMENT naming the change', async () => {
    const status = await decisionStatus({ input: TEXT }, () => ({
      step: 0,
      action: ACCEPT,
      pipelineChanges: [{ change: { $case: 'replace', value: { name: 'top_k', params: { top_k: { kind: { $case: 'intValue', value: 2n } } } } } }],
    }));
    expectStatus(status, Status.INVALID_ARGUMENT, '`decision.pipeline_changes[0]`', 'top_k', 'not in the pipeline');
  });

  it('a THIS_STEP change with a rewind is INVALID_ARGUMENT', async () => {
    const status = await decisionStatus(
      { input: TEXT, maxNewTokens: 10, minNewTokens: 10 },
      (step) =>
        step < 1
          ? { step, action: ACCEPT }
          : {
              step,
              action: { $case: 'rewind', value: { count: 1 } },
              pipelineChanges: [{ change: { $case: 'remove', value: 'x' }, scope: PipelineScope.PIPELINE_SCOPE_THIS_STEP }],
            },
      2,
    );
    expectStatus(status, Status.INVALID_ARGUMENT, '`decision.pipeline_changes[0].scope`', 'THIS_STEP');
  });
});

describe('limits', () => {
  it('a stream beyond max_concurrent_streams is RESOURCE_EXHAUSTED while the open ones go on', async () => {
    const open = Array.from({ length: LIMITS.maxConcurrentStreams }, () => {
      const stream = DecodeStream.open(server.newClient());
      stream.start({ input: TEXT, maxNewTokens: 3 });
      return stream;
    });
    while (server.app.server.openStreams < LIMITS.maxConcurrentStreams) await new Promise((resolve) => setTimeout(resolve, 5));
    const refused = await startStatus({ input: TEXT });
    expectStatus(refused, Status.RESOURCE_EXHAUSTED, 'at most 8 streams', '`max_concurrent_streams`');
    const finished = await Promise.all(
      open.map((stream) => runLockstep(stream, (logits) => ({ step: logits.step, action: ACCEPT }))),
    );
    for (const transcript of finished) expect(transcript.finished?.reason).toBe(FinishReason.FINISH_REASON_MAX_NEW_TOKENS);
  });
});

describe('isolation', () => {
  it('errors on other streams leave a running stream and the server untouched', async () => {
    const healthy = DecodeStream.open(server.newClient());
    healthy.start({ input: TEXT, maxNewTokens: 6, minNewTokens: 6 });
    const failing = [
      startStatus({ input: TEXT, maxNewTokens: 99 }),
      decisionStatus({ input: TEXT }, () => ({ step: 0, action: { $case: 'forceToken', value: { tokenId: 10_000 } } })),
      startStatus({ input: TEXT, processors: [{ name: 'nope' }] }),
    ];
    const transcript = await runLockstep(healthy, (logits) => ({ step: logits.step, action: ACCEPT }));
    for (const status of await Promise.all(failing)) expect(status.code).not.toBe(Status.OK);
    expect(transcript.finished?.tokenIds).toHaveLength(6);
    const info = await unary(server.client, 'getModelInfo', {});
    expect(info.vocabSize).toBe(VOCAB);
    await server.settled();
    expect(server.logger.lines.filter((line) => line.startsWith('ERROR'))).toEqual([]);
  });
});

/**
 * Beam search through the real server (`Generate`, and `Decode` in AUTO mode) equals an independent beam
 * search written in the test tree over the float64 T5 reference (`test/reference/reference-beam-search.ts`):
 * the same live beams at every step, the same returned sequences, scores within 1e-5, on several inputs,
 * every `early_stopping` value and length penalties other than 1. One beam is greedy decoding; a model
 * folder's `generation_config.json` keeps its beam settings; every refusal names its field.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status as Status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DecodeMode, EarlyStopping, type DecodeResponse, FinishReason, LogitsFormat, SelectionMode, type BeamStep, type Finished } from '../../../src/gen/stepwise/v1/stepwise.js';
import { tinyModels } from '../../fixtures/models.js';
import { referenceBeamSearch, type ReferenceBeamOptions } from '../../reference/reference-beam-search.js';
import { T5Reference } from '../../reference/t5-reference.js';
import { DecodeStream, generateAll, unary, type StartInput } from '../../support/decode-client.js';
import { startTestServer, type TestServer } from '../../support/test-server.js';

const TOLERANCE = 1e-5;
/** Inputs of different lengths (ids below the tiny vocabulary, ending with EOS). */
const INPUTS = [
  [13, 7, 42, 5, 1],
  [100, 200, 300, 1],
  [8, 9, 10, 11, 12, 13, 14, 15, 16, 1],
];
/** EOS raised by 4 nats after the log-softmax, so beams finish at many lengths and the stop rules matter. */
const EOS_BIAS = { sequenceBias: [{ tokenIds: { ids: [1] }, bias: 4 }] };
const raiseEos = (_history: readonly number[], logProbs: Float64Array): void => {
  logProbs[1] = logProbs[1]! + 4;
};

const EARLY_STOPPING: ReadonlyArray<{ wire: EarlyStopping; rule: boolean | 'never' }> = [
  { wire: EarlyStopping.EARLY_STOPPING_TRUE, rule: true },
  { wire: EarlyStopping.EARLY_STOPPING_FALSE, rule: false },
  { wire: EarlyStopping.EARLY_STOPPING_NEVER, rule: 'never' },
];

let server: TestServer;
let reference: T5Reference;
beforeAll(async () => {
  server = await startTestServer({ modelDir: tinyModels.reluTied, limits: { maxBeams: 6 } });
  reference = T5Reference.load(tinyModels.reluTied);
});
afterAll(async () => server?.stop());

type Message = NonNullable<DecodeResponse['message']>;
const beamSteps = (messages: readonly Message[]): BeamStep[] => messages.flatMap((m) => (m.$case === 'beamStep' ? [m.value] : []));
const finishedOf = (messages: readonly Message[]): Finished => {
  const last = messages.at(-1);
  if (last?.$case !== 'finished') throw new Error(`expected \`finished\` last, got ${last?.$case}`);
  return last.value;
};

function expectClose(actual: readonly number[], expected: readonly number[]): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((value, i) => expect(Math.abs(value - expected[i]!)).toBeLessThanOrEqual(TOLERANCE));
}

/** The server's beam search of `ids` equals the reference's, step by step and at the end. */
async function expectMatchesReference(ids: number[], options: ReferenceBeamOptions, start: StartInput): Promise<Finished> {
  const expected = referenceBeamSearch(reference, ids, options);
  const { messages, status } = await generateAll(server.client, { input: { $case: 'tokenIds', value: { ids } }, maxNewTokens: options.maxNewTokens, ...start });
  expect(status.code).toBe(Status.OK);
  const steps = beamSteps(messages);
  expect(steps.length).toBe(expected.steps.length);
  // The last step ends the search: it reports no live beam.
  expect(steps.at(-1)!.beams).toEqual([]);
  const live = steps.slice(0, -1);
  expect(live.map((step) => step.beams.map((beam) => beam.tokenIds))).toEqual(expected.steps.slice(0, -1).map((step) => step.tokens));
  live.forEach((step, i) => expectClose(step.beams.map((beam) => beam.score), expected.steps[i]!.scores));
  const finished = finishedOf(messages);
  expect(finished.sequences.map((sequence) => sequence.tokenIds)).toEqual(expected.sequences);
  expectClose(finished.sequences.map((sequence) => sequence.score), expected.scores);
  expect(finished.tokenIds).toEqual(expected.sequences[0]);
  return finished;
}

describe('beam search against the independent reference', () => {
  const cases = INPUTS.flatMap((ids, input) =>
    EARLY_STOPPING.flatMap(({ wire, rule }) =>
      [2, 0.5, -1].map((lengthPenalty) => ({ ids, input, wire, rule, lengthPenalty, label: `input ${input}, early_stopping ${String(rule)}, length_penalty ${lengthPenalty}` })),
    ),
  );

  it.each(cases)('$label: the same beams at every step, the same sequences and scores', async ({ ids, rule, wire, lengthPenalty }) => {
    const numBeams = 4;
    await expectMatchesReference(
      ids,
      { numBeams, lengthPenalty, earlyStopping: rule, numReturnSequences: 3, maxNewTokens: 10, processor: raiseEos },
      { generationConfig: EOS_BIAS, beamSearch: { numBeams, lengthPenalty, earlyStopping: wire, numReturnSequences: 3 } },
    );
  });

  it('without a processor, length_penalty 1 and the stop at max_new_tokens (generation_config form)', async () => {
    const finished = await expectMatchesReference(
      INPUTS[0]!,
      { numBeams: 3, lengthPenalty: 1, earlyStopping: false, numReturnSequences: 3, maxNewTokens: 6 },
      { generationConfig: { numBeams: 3, numReturnSequences: 3 } },
    );
    expect(finished.reason).toBe(FinishReason.FINISH_REASON_MAX_NEW_TOKENS);
  });

  it('no_repeat_ngram_size applies per beam, to each beam\'s own history', async () => {
    const banRepeatedBigrams = (history: readonly number[], logProbs: Float64Array): void => {
      const last = history[history.length - 1];
      for (let i = 0; i + 1 < history.length; i++) if (history[i] === last) logProbs[history[i + 1]!] = -Infinity;
    };
    await expectMatchesReference(
      INPUTS[1]!,
      { numBeams: 5, lengthPenalty: 1.5, earlyStopping: false, numReturnSequences: 5, maxNewTokens: 12, processor: banRepeatedBigrams },
      { generationConfig: { noRepeatNgramSize: 2, numBeams: 5, lengthPenalty: 1.5, numReturnSequences: 5 } },
    );
  });

  it('a decoder prefix is the prompt of every beam', async () => {
    await expectMatchesReference(
      INPUTS[2]!,
      { numBeams: 2, lengthPenalty: 1, earlyStopping: true, numReturnSequences: 2, maxNewTokens: 8, decoderPrefix: [33, 44], processor: raiseEos },
      { decoderPrefixIds: [33, 44], generationConfig: EOS_BIAS, beamSearch: { numBeams: 2, earlyStopping: EarlyStopping.EARLY_STOPPING_TRUE, numReturnSequences: 2 } },
    );
  });
});

describe('beam search streams', () => {
  const START: StartInput = {
    input: { $case: 'tokenIds', value: { ids: INPUTS[0]! } },
    maxNewTokens: 10,
    generationConfig: EOS_BIAS,
    beamSearch: { numBeams: 4, lengthPenalty: 2, numReturnSequences: 2 },
  };
  const withoutTimings = (messages: readonly Message[]) =>
    messages.map((m) => (m.$case === 'finished' ? { ...m, value: { ...m.value, timings: undefined } } : m));

  it('num_beams 1 is greedy decoding: the same stream as no beam search', async () => {
    const plain = { input: START.input, maxNewTokens: 10, stream: { topNAlternatives: 2 } };
    const greedy = await generateAll(server.client, plain);
    const oneBeam = await generateAll(server.client, { ...plain, beamSearch: { numBeams: 1 } });
    expect(oneBeam.status.code).toBe(Status.OK);
    expect(withoutTimings(oneBeam.messages)).toEqual(withoutTimings(greedy.messages));
    expect(finishedOf(oneBeam.messages).tokenIds).toEqual(reference.greedy(INPUTS[0]!, 10));
  });

  it('Decode with beams (mode left unset) runs in AUTO mode and streams what Generate streams', async () => {
    const generated = await generateAll(server.client, START);
    const stream = DecodeStream.open(server.client);
    stream.start(START);
    const decoded = await stream.drain();
    stream.call.end();
    expect(decoded.status.code).toBe(Status.OK);
    expect(withoutTimings(decoded.messages)).toEqual(withoutTimings(generated.messages));
    const started = decoded.messages[0];
    expect(started?.$case === 'started' && started.value.mode).toBe(DecodeMode.DECODE_MODE_AUTO);
    expect(started?.$case === 'started' && started.value.beamSearch).toEqual({
      numBeams: 4,
      lengthPenalty: 2,
      earlyStopping: EarlyStopping.EARLY_STOPPING_FALSE,
      numReturnSequences: 2,
    });
    expect(decoded.messages.some((m) => m.$case === 'logits' || m.$case === 'token')).toBe(false);
    const finished = finishedOf(decoded.messages);
    expect(finished.sequences.length).toBe(2);
    expect(finished.sequences[0]!.text).toBe(finished.text);
    expect(finished.sequences[0]!.score).toBeGreaterThanOrEqual(finished.sequences[1]!.score);
  });

  it('a stop ends the search with CLIENT_STOP, returning finished and live beams, and frees every beam', async () => {
    const stream = DecodeStream.open(server.client);
    stream.start({ ...START, minNewTokens: 300, maxNewTokens: 300, generationConfig: undefined, beamSearch: { numBeams: 3, numReturnSequences: 2 } });
    await stream.expect('started');
    const first = await stream.expect('beamStep');
    stream.stop();
    const { messages, status } = await stream.drain();
    stream.call.end();
    expect(status.code).toBe(Status.OK);
    const finished = finishedOf(messages);
    expect(finished.reason).toBe(FinishReason.FINISH_REASON_CLIENT_STOP);
    expect(finished.sequences.map((s) => s.reason)).toEqual([FinishReason.FINISH_REASON_CLIENT_STOP, FinishReason.FINISH_REASON_CLIENT_STOP]);
    // The stop came before the next step's selection: the beams of the last step reported were live.
    const lastStep = [first, ...beamSteps(messages)].at(-1)!;
    expect(finished.sequences.map((s) => s.tokenIds)).toEqual(lastStep.beams.slice(0, 2).map((beam) => beam.tokenIds));
    await server.settled();
  });

  it('a decision is refused with FAILED_PRECONDITION; a cancel frees every beam', async () => {
    const stream = DecodeStream.open(server.client);
    stream.start({ ...START, minNewTokens: 300, maxNewTokens: 300, generationConfig: undefined });
    await stream.expect('started');
    stream.decide({ step: 0, action: { $case: 'accept', value: {} } });
    const { status } = await stream.drain();
    expect(status.code).toBe(Status.FAILED_PRECONDITION);
    expect(status.details).toContain('`decision` cannot steer a beam search');

    const cancelled = DecodeStream.open(server.client);
    cancelled.start({ ...START, minNewTokens: 300, maxNewTokens: 300, generationConfig: undefined });
    await cancelled.expect('started');
    await cancelled.expect('beamStep');
    cancelled.call.cancel();
    await cancelled.status;
    await server.settled();
  });

  it('GetModelInfo reports max_beams', async () => {
    const info = await unary(server.client, 'getModelInfo', {});
    expect(info.limits?.maxBeams).toBe(6);
  });
});

describe('refusals name the field', () => {
  const base: StartInput = { input: { $case: 'tokenIds', value: { ids: INPUTS[0]! } }, maxNewTokens: 5 };
  const refusals: ReadonlyArray<[string, StartInput, Status, string]> = [
    ['num_beams above the limit', { beamSearch: { numBeams: 7 } }, Status.INVALID_ARGUMENT, '`beam_search.num_beams` must be in [0, 6]'],
    ['num_return_sequences above num_beams', { beamSearch: { numBeams: 2, numReturnSequences: 3 } }, Status.INVALID_ARGUMENT, '`beam_search.num_return_sequences` must be in [1, 2]'],
    ['a beam-only setting without beams', { generationConfig: { numBeams: 1, lengthPenalty: 2 } }, Status.INVALID_ARGUMENT, '`generation_config.length_penalty` applies only to beam search'],
    ['both forms', { beamSearch: { numBeams: 2 }, generationConfig: { numBeams: 2 } }, Status.INVALID_ARGUMENT, '`beam_search` and the beam settings of `generation_config` must not both be given'],
    ['LOCKSTEP', { beamSearch: { numBeams: 2 }, mode: DecodeMode.DECODE_MODE_LOCKSTEP }, Status.INVALID_ARGUMENT, '`mode` must be AUTO'],
    ['sampling', { beamSearch: { numBeams: 2 }, selection: { mode: SelectionMode.SELECTION_MODE_SAMPLE } }, Status.INVALID_ARGUMENT, '`selection.mode` must be GREEDY'],
    ['do_sample', { generationConfig: { numBeams: 2, doSample: true } }, Status.INVALID_ARGUMENT, '`generation_config.do_sample` must be false with `generation_config.num_beams` > 1'],
    ['stop strings', { beamSearch: { numBeams: 2 }, stopStrings: ['x'] }, Status.INVALID_ARGUMENT, '`stop_strings` must be empty'],
    ['raw logits', { beamSearch: { numBeams: 2 }, stream: { rawLogits: LogitsFormat.LOGITS_FORMAT_FLOAT16 } }, Status.INVALID_ARGUMENT, '`stream.raw_logits` must be unset'],
    ['a non-finite length penalty', { beamSearch: { numBeams: 2, lengthPenalty: Number.NaN } }, Status.INVALID_ARGUMENT, '`beam_search.length_penalty` must be a finite number'],
  ];

  it.each(refusals)('%s', async (_label, start, code, message) => {
    const { status } = await generateAll(server.client, { ...base, ...start });
    expect(status.code).toBe(code);
    expect(status.details).toContain(message);
  });
});

describe("a model folder's generation_config.json", () => {
  let folder: string;
  let folderServer: TestServer;
  beforeAll(async () => {
    folder = join(mkdtempSync(join(tmpdir(), 'stepwise-beams-')), 'model');
    cpSync(tinyModels.reluTied, folder, { recursive: true });
    const file = join(folder, 'generation_config.json');
    const config = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    writeFileSync(file, JSON.stringify({ ...config, num_beams: 3, length_penalty: 2.0, early_stopping: 'never', num_return_sequences: 2 }));
    folderServer = await startTestServer({ modelDir: folder });
  });
  afterAll(async () => {
    await folderServer?.stop();
    rmSync(folder, { recursive: true, force: true });
  });

  it('its num_beams applies to a Generate that names no beam search, as the same settings given in the request', async () => {
    const start: StartInput = { input: { $case: 'tokenIds', value: { ids: INPUTS[1]! } }, maxNewTokens: 8 };
    const fromFolder = await generateAll(folderServer.client, start);
    const requested = await generateAll(server.client, {
      ...start,
      beamSearch: { numBeams: 3, lengthPenalty: 2, earlyStopping: EarlyStopping.EARLY_STOPPING_NEVER, numReturnSequences: 2 },
    });
    expect(fromFolder.status.code).toBe(Status.OK);
    const started = fromFolder.messages[0];
    expect(started?.$case === 'started' && started.value.defaultsFromModel).toContain('beam_search');
    expect(finishedOf(fromFolder.messages).sequences).toEqual(finishedOf(requested.messages).sequences);
    expect(folderServer.logger.entries.some((entry) => entry.message.includes('num_beams'))).toBe(false);
  });

  it('a LOCKSTEP Decode on that folder decodes one sequence', async () => {
    const stream = DecodeStream.open(folderServer.client);
    stream.start({ input: { $case: 'tokenIds', value: { ids: INPUTS[1]! } }, maxNewTokens: 2 });
    const started = await stream.expect('started');
    expect(started.mode).toBe(DecodeMode.DECODE_MODE_LOCKSTEP);
    expect(started.beamSearch).toBeUndefined();
    stream.stop();
    await stream.drain();
    stream.call.end();
  });
});

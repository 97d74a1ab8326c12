/**
 * Pipelines are applied exactly as asked, through the server: greedy selection takes the argmax of the
 * whole pipeline run in order (never of a pipeline with stages skipped), an explicit list is run as given
 * in sampling mode too, and a model folder's `generation_config.json` supplies the defaults of a `Start`
 * that names no pipeline, as Hugging Face's `generate()` takes them.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status as Status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SelectionMode, type DecodeResponse, type ProcessorSpec as WireSpec, type TokenChosen } from '../../../src/gen/stepwise/v1/stepwise.js';
import { BUILTIN_PROCESSORS, Pipeline, ProcessorRegistry } from '../../../src/processors/index.js';
import { composeServer } from '../../../src/composition-root.js';
import { fromWireProcessorSpec } from '../../../src/server/param-values.js';
import { MemoryLogger } from '../../../src/server/logger.js';
import { staticContext } from '../../../src/server/static-context.js';
import { tinyModels } from '../../fixtures/models.js';
import { generateAll, unary, type StartInput } from '../../support/decode-client.js';
import { argmax, tensorValues } from '../../support/runtime-reference.js';
import { startTestServer, type TestServer } from '../../support/test-server.js';
import { float, processor } from '../../support/wire-params.js';

const TEXT = { $case: 'text', value: 'translate English to German: The house is wonderful.' } as const;
const registry = new ProcessorRegistry(BUILTIN_PROCESSORS);

type Message = NonNullable<DecodeResponse['message']>;
const tokensOf = (messages: Message[]): TokenChosen[] => messages.flatMap((m) => (m.$case === 'token' ? [m.value] : []));
const rowsOf = (messages: Message[]): Float32Array[] => messages.flatMap((m) => (m.$case === 'logits' ? [tensorValues(m.value.raw)] : []));
const startedOf = (messages: Message[]) => {
  const first = messages[0];
  if (first?.$case !== 'started') throw new Error('the stream did not start');
  return first.value;
};
const finishedOf = (messages: Message[]) => {
  const last = messages.at(-1);
  if (last?.$case !== 'finished') throw new Error(`the stream did not finish: ${JSON.stringify(last?.$case)}`);
  return last.value;
};

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ modelDir: tinyModels.reluTied });
});
afterAll(async () => server?.stop());

async function generate(target: TestServer, start: StartInput): Promise<Message[]> {
  const { messages, status } = await generateAll(target.client, start);
  expect(status).toMatchObject({ code: Status.OK });
  return messages;
}

/**
 * Every step's processed row, computed here from the streamed raw row with the request's pipeline run in
 * order (a fresh pipeline per stream, as the server builds one), for the tokens the server took.
 */
async function orderedPipelineRows(specs: readonly WireSpec[], messages: Message[]): Promise<Float32Array[]> {
  const model = server.app.model;
  const started = startedOf(messages);
  const plan = { inputIds: started.inputIds, decoderPrefix: [], maxNewTokens: started.maxNewTokens };
  const pipeline = Pipeline.build(
    registry,
    specs.map((spec, i) => fromWireProcessorSpec(spec, `processors[${i}]`)),
    staticContext(model, plan),
  );
  const history = [model.info.specialIds.decoderStart];
  return rowsOf(messages).map((raw, step) => {
    const row = Float32Array.from(raw);
    pipeline.run(row, { history, step });
    history.push(tokensOf(messages)[step]!.tokenId);
    return row;
  });
}

describe('greedy selection over an explicit pipeline', () => {
  it.each([
    ['top_k 5, then typical_p 0.5', [processor('top_k', { top_k: 5 }), processor('typical_p', { typical_p: float(0.5) })]],
    ['top_k 3, then typical_p 0.9', [processor('top_k', { top_k: 3 }), processor('typical_p', { typical_p: float(0.9) })]],
    ['top_k 1, then a +50 bias on id 100', [processor('top_k', { top_k: 1 }), processor('sequence_bias', { sequence_bias: [[[100], float(50)]] })]],
    ['temperature 0.5, top_p 0.8, then min_p 0.2', [processor('temperature', { temperature: float(0.5) }), processor('top_p', { top_p: float(0.8) }), processor('min_p', { min_p: float(0.2) })]],
  ])('%s: every token is the argmax of the pipeline run in full, in order', async (_label, specs) => {
    const messages = await generate(server, { input: TEXT, maxNewTokens: 8, processors: specs, stream: { processedScores: true } });
    const expected = await orderedPipelineRows(specs, messages);
    tokensOf(messages).forEach((token, step) => {
      expect(token.tokenId).toBe(argmax(expected[step]!));
      // The processed scores streamed are those of the whole pipeline, bit for bit.
      expect(Buffer.from(token.processedScores!.data).equals(Buffer.from(expected[step]!.buffer))).toBe(true);
    });
  });

  it('on the embedded model, step 0 takes 572 with top_k 5 then typical_p 0.5, and 423 with top_k 3 then typical_p 0.9', async () => {
    // Skipping top_k (argmax-invariant alone) let typical_p pick from the whole row: 599 and 489.
    const embedded = await startTestServer({ modelDir: tinyModels.embedded });
    try {
      const first = async (specs: WireSpec[]) => tokensOf(await generate(embedded, { input: TEXT, maxNewTokens: 1, processors: specs }))[0]!.tokenId;
      expect(await first([processor('top_k', { top_k: 5 }), processor('typical_p', { typical_p: float(0.5) })])).toBe(572);
      expect(await first([processor('top_k', { top_k: 3 }), processor('typical_p', { typical_p: float(0.9) })])).toBe(423);
    } finally {
      await embedded.stop();
    }
  });

  it('a bias after top_k 1 does not bring back the token top_k removed', async () => {
    const messages = await generate(server, {
      input: TEXT,
      maxNewTokens: 8,
      processors: [processor('top_k', { top_k: 1 }), processor('sequence_bias', { sequence_bias: [[[100], float(50)]] })],
    });
    const rows = rowsOf(messages);
    tokensOf(messages).forEach((token, step) => expect(token.tokenId).toBe(argmax(rows[step]!)));
  });
});

describe('an explicit pipeline is applied exactly as given', () => {
  it('in sampling mode nothing is added or moved: Started.pipeline equals the request', async () => {
    const specs = [
      processor('top_k', { top_k: 20 }),
      processor('temperature', { temperature: float(0.7) }),
      processor('repetition_penalty', { repetition_penalty: float(1.2) }),
    ];
    const messages = await generate(server, { input: TEXT, maxNewTokens: 3, processors: specs, selection: { mode: SelectionMode.SELECTION_MODE_SAMPLE, seed: 7n } });
    const started = startedOf(messages);
    expect(started.pipeline).toEqual(specs);
    expect(started.defaultsFromModel).toEqual([]);
    expect(started.selectionMode).toBe(SelectionMode.SELECTION_MODE_SAMPLE);
  });

  it('min_new_tokens puts its processor first and keeps the rest as given', async () => {
    const specs = [processor('top_k', { top_k: 20 })];
    const messages = await generate(server, { input: TEXT, maxNewTokens: 3, minNewTokens: 2, processors: specs });
    expect(startedOf(messages).pipeline).toEqual([processor('min_new_tokens', { min_new_tokens: 2 }), ...specs]);
  });

  it('generation_config keeps Hugging Face’s order and defaults (do_sample alone means top_k 50)', async () => {
    const messages = await generate(server, { input: TEXT, maxNewTokens: 2, generationConfig: { doSample: true, temperature: 0.5 } });
    expect(startedOf(messages).pipeline.map((spec) => spec.name)).toEqual(['temperature', 'top_k']);
  });
});

describe('an empty text is a legal input', () => {
  it('Start and Tokenize agree: the encoder sees </s> alone', async () => {
    const tokenized = await unary(server.client, 'tokenize', { text: '' });
    const messages = await generate(server, { input: { $case: 'text', value: '' }, maxNewTokens: 2 });
    expect(startedOf(messages).inputIds).toEqual(tokenized.tokenIds);
    expect(tokenized.tokenIds).toEqual([server.app.model.info.specialIds.eos]);
    expect(finishedOf(messages).tokenIds).toHaveLength(2);
  });
});

describe("the model folder's generation_config.json", () => {
  const folders: string[] = [];
  afterAll(() => folders.forEach((folder) => rmSync(folder, { recursive: true, force: true })));

  /** A copy of the tiny model whose generation_config.json also holds `settings`. */
  function folderWith(settings: Record<string, unknown>): string {
    const folder = mkdtempSync(join(tmpdir(), 'stepwise-generation-config-'));
    folders.push(folder);
    cpSync(tinyModels.reluTied, folder, { recursive: true });
    const file = join(folder, 'generation_config.json');
    const current = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    writeFileSync(file, JSON.stringify({ ...current, ...settings }));
    return folder;
  }

  it('max_new_tokens 3 ends a stream that leaves it unset after 3 tokens, and Started says so', async () => {
    const own = await startTestServer({ modelDir: folderWith({ max_new_tokens: 3, min_new_tokens: 3 }) });
    try {
      const messages = await generate(own, { input: TEXT });
      expect(finishedOf(messages).tokenIds).toHaveLength(3);
      const started = startedOf(messages);
      expect(started.maxNewTokens).toBe(3);
      expect(started.defaultsFromModel).toEqual(['max_new_tokens', 'generation_config']);
      // A stream that sets its own limit or pipeline is not affected.
      const own5 = await generate(own, { input: TEXT, maxNewTokens: 5, processors: [processor('min_new_tokens', { min_new_tokens: 5 })] });
      expect(finishedOf(own5).tokenIds).toHaveLength(5);
      expect(startedOf(own5).defaultsFromModel).toEqual([]);
    } finally {
      await own.stop();
    }
  });

  it('max_length counts the decoder prompt, as in Hugging Face: max_length 4 leaves 3 new tokens', async () => {
    const own = await startTestServer({ modelDir: folderWith({ max_length: 4, min_length: 4 }) });
    try {
      const messages = await generate(own, { input: TEXT });
      expect(startedOf(messages).maxNewTokens).toBe(3);
      expect(finishedOf(messages).tokenIds).toHaveLength(3);
    } finally {
      await own.stop();
    }
  });

  it('do_sample and top_k make an unset selection sample, through top_k; a greedy Start drops the sampling settings', async () => {
    const own = await startTestServer({ modelDir: folderWith({ do_sample: true, top_k: 5, temperature: 0.8, repetition_penalty: 1.3 }) });
    try {
      const sampled = startedOf(await generate(own, { input: TEXT, maxNewTokens: 2 }));
      expect(sampled.selectionMode).toBe(SelectionMode.SELECTION_MODE_SAMPLE);
      expect(sampled.pipeline.map((spec) => spec.name)).toEqual(['repetition_penalty', 'temperature', 'top_k']);
      expect(sampled.defaultsFromModel).toEqual(['selection.mode', 'generation_config']);
      const greedy = startedOf(await generate(own, { input: TEXT, maxNewTokens: 2, selection: { mode: SelectionMode.SELECTION_MODE_GREEDY } }));
      expect(greedy.selectionMode).toBe(SelectionMode.SELECTION_MODE_GREEDY);
      expect(greedy.pipeline.map((spec) => spec.name)).toEqual(['repetition_penalty']);
    } finally {
      await own.stop();
    }
  });

  it('a value the pipeline cannot use stops the server at start-up, naming the file and the field', async () => {
    const folder = folderWith({ do_sample: true, top_p: 1.5 });
    const failed = composeServer({ modelDir: folder, logger: new MemoryLogger() });
    await expect(failed).rejects.toThrow(/generation_config\.json: top_p.*top_p.*\(0, 1\].*1\.5/);
  });
});


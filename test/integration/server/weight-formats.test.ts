/**
 * The server on fp16, q8 and mixed folders: each streams, bit for bit, the logits the runtime computes
 * from the same files, and greedy decoding picks the same tokens. Where the model's logits are float16
 * (fp16 files with float16 outputs), a FLOAT16 stream carries the model's own bits.
 */
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataType, LogitsFormat, type StepLogits } from '../../../src/gen/stepwise/v1/stepwise.js';
import { loadModel, type ModelDtypeChoice } from '../../../src/runtime/index.js';
import type { ModelRuntime } from '../../../src/runtime/types.js';
import { tinyModels } from '../../fixtures/models.js';
import { DecodeStream, type StartInput } from '../../support/decode-client.js';
import { rowBytes, runtimeGreedy, runtimeStepLogits } from '../../support/runtime-reference.js';
import { startTestServer, type TestServer } from '../../support/test-server.js';

const accept = { $case: 'accept', value: {} } as const;
const input: StartInput['input'] = { $case: 'tokenIds', value: { ids: [5, 17, 42, 9, 23, 1] } };

/** Decodes `steps` steps in lockstep, accepting the server's greedy choice each time. */
async function lockstepAccepting(server: TestServer, start: StartInput, steps: number) {
  const stream = DecodeStream.open(server.client);
  stream.start({ ...start, maxNewTokens: steps, stopTokenSequences: [] });
  const started = await stream.expect('started');
  const logits: StepLogits[] = [];
  const tokens: number[] = [];
  for (let step = 0; step < steps; step++) {
    logits.push(await stream.expect('logits'));
    stream.decide({ step, action: accept });
    const token = await stream.expect('token');
    tokens.push(token.tokenId);
    if (started.specialIds?.eosTokenId === token.tokenId) break;
  }
  await stream.expect('finished');
  stream.call.end();
  expect((await stream.status).code).toBe(0);
  return { started, logits, tokens };
}

describe.each([
  { label: 'fp16, float32 edges', dir: tinyModels.dtypesRelu, dtype: 'fp16' },
  { label: 'q8', dir: tinyModels.dtypesGated, dtype: 'q8' },
  { label: 'encoder fp16, decoder q8', dir: tinyModels.dtypesRelu, dtype: { encoder: 'fp16', decoder: 'q8' } },
  { label: 'fp16, float16 edges', dir: tinyModels.fp16Io, dtype: 'fp16' },
  { label: 'encoder fp32, decoder fp16 with float16 edges', dir: tinyModels.fp16Io, dtype: { encoder: 'fp32', decoder: 'fp16' } },
] as const)('serving $label', ({ dir, dtype }) => {
  let server: TestServer;
  let reference: ModelRuntime;
  beforeAll(async () => {
    server = await startTestServer({ modelDir: dir, load: { dtype: dtype as ModelDtypeChoice } });
    reference = await loadModel(dir, { dtype: dtype as ModelDtypeChoice });
  });
  afterAll(async () => {
    await server?.stop();
    await reference?.dispose();
  });

  it('streams the runtime\'s logits of the same files bit for bit and picks the runtime\'s greedy tokens', async () => {
    const { started, logits, tokens } = await lockstepAccepting(server, { input }, 8);
    const greedy = await runtimeGreedy(reference, started.inputIds, 8);
    expect(tokens).toEqual(greedy.tokens);
    const expected = await runtimeStepLogits(reference, started.inputIds, tokens);
    logits.forEach((message, step) => {
      expect(message.raw?.dtype).toBe(DataType.DATA_TYPE_FLOAT32);
      expect(Buffer.compare(message.raw!.data, rowBytes(expected[step]!))).toBe(0);
    });
  });
});

describe('FLOAT16 rows of a model whose logits are float16', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ modelDir: tinyModels.fp16Io, load: { dtype: 'fp16' } });
  });
  afterAll(async () => {
    await server?.stop();
  });

  /** The first step's logits as the fp16 files compute them, run directly with ONNX Runtime: float16 bits. */
  async function modelFirstStepBits(ids: readonly number[]): Promise<Uint16Array> {
    const open = (name: string) => ort.InferenceSession.create(join(tinyModels.fp16Io, 'onnx', `${name}_fp16.onnx`));
    const [encoder, decoder] = await Promise.all([open('encoder_model'), open('decoder_model_merged')]);
    try {
      const mask = new ort.Tensor('int64', new BigInt64Array(ids.length).fill(1n), [1, ids.length]);
      const { last_hidden_state: hidden } = await encoder.run({ input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, ids.length]), attention_mask: mask });
      expect(hidden!.type).toBe('float16');
      const feeds: Record<string, ort.Tensor> = {
        input_ids: new ort.Tensor('int64', BigInt64Array.of(0n), [1, 1]),
        encoder_hidden_states: hidden!,
        encoder_attention_mask: mask,
        use_cache_branch: new ort.Tensor('bool', Uint8Array.of(0), [1]),
      };
      for (const name of decoder.inputNames.filter((inputName) => inputName.startsWith('past_key_values.'))) {
        feeds[name] = new ort.Tensor('float16', new Uint16Array(0), [1, 4, 0, 8]);
      }
      const { logits } = await decoder.run(feeds, ['logits']);
      expect(logits!.type).toBe('float16');
      return Uint16Array.from(logits!.data as Uint16Array);
    } finally {
      await Promise.all([encoder.release(), decoder.release()]);
    }
  }

  it('are the model\'s own float16 bits, untouched', async () => {
    const { started, logits } = await lockstepAccepting(server, { input, stream: { rawLogits: LogitsFormat.LOGITS_FORMAT_FLOAT16 } }, 1);
    const streamed = new Uint16Array(Uint8Array.from(logits[0]!.raw!.data).buffer);
    expect(logits[0]!.raw!.dtype).toBe(DataType.DATA_TYPE_FLOAT16);
    expect(Array.from(streamed)).toEqual(Array.from(await modelFirstStepBits(started.inputIds)));
  });
});

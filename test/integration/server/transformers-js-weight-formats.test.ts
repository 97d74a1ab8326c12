/**
 * transformers.js loads each weight format the builder writes (`dtype: 'fp16' | 'q8'`, and per file), and its
 * greedy `generate()` on the folder picks exactly the tokens the server picks serving the same files.
 */
import { basename, dirname } from 'node:path';
import { AutoModelForSeq2SeqLM, env, Tensor, type PreTrainedModel } from '@huggingface/transformers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelDtypeChoice } from '../../../src/runtime/index.js';
import { tinyModels } from '../../fixtures/models.js';
import { DecodeStream } from '../../support/decode-client.js';
import { startTestServer, type TestServer } from '../../support/test-server.js';

const MAX_NEW_TOKENS = 10;
const PROMPTS = [
  [5, 17, 42, 9, 23, 1],
  [101, 7, 1],
  [12, 250, 3, 99, 4, 61, 88, 17, 230, 1],
];

// Nothing comes from a model hub: every folder is local.
env.allowRemoteModels = false;

/** The server's greedy tokens (the default pipeline picks the highest logit), start token first as transformers.js gives them. */
async function serverGreedy(server: TestServer, ids: readonly number[]): Promise<number[]> {
  const stream = DecodeStream.open(server.client);
  stream.start({ input: { $case: 'tokenIds', value: { ids: [...ids] } }, maxNewTokens: MAX_NEW_TOKENS, stopTokenSequences: [] });
  const started = await stream.expect('started');
  const tokens = [started.specialIds!.decoderStartTokenId];
  for (let step = 0; step < MAX_NEW_TOKENS; step++) {
    await stream.expect('logits');
    stream.decide({ step, action: { $case: 'accept', value: {} } });
    const token = await stream.expect('token');
    tokens.push(token.tokenId);
    if (token.tokenId === started.specialIds!.eosTokenId) break;
  }
  await stream.expect('finished');
  stream.call.end();
  await stream.status;
  return tokens;
}

describe.each([
  { label: 'fp16 (float32 edges)', dir: tinyModels.dtypesRelu, dtype: 'fp16', tjs: 'fp16' },
  { label: 'q8', dir: tinyModels.dtypesRelu, dtype: 'q8', tjs: 'q8' },
  { label: 'q8, gated-gelu untied', dir: tinyModels.dtypesGated, dtype: 'q8', tjs: 'q8' },
  { label: 'fp16 with float16 edges', dir: tinyModels.fp16Io, dtype: 'fp16', tjs: 'fp16' },
  {
    label: 'encoder fp16, decoder q8',
    dir: tinyModels.dtypesGated,
    dtype: { encoder: 'fp16', decoder: 'q8' },
    tjs: { encoder_model: 'fp16', decoder_model_merged: 'q8' },
  },
] as const)('transformers.js and the server on $label', ({ dir, dtype, tjs }) => {
  let model: PreTrainedModel;
  let server: TestServer;
  beforeAll(async () => {
    env.localModelPath = dirname(dir);
    model = await AutoModelForSeq2SeqLM.from_pretrained(basename(dir), { dtype: tjs as never });
    server = await startTestServer({ modelDir: dir, load: { dtype: dtype as ModelDtypeChoice } });
  });
  afterAll(async () => {
    await model?.dispose();
    await server?.stop();
  });

  it(`generate ${MAX_NEW_TOKENS} greedy tokens identically for ${PROMPTS.length} prompts`, async () => {
    for (const ids of PROMPTS) {
      const input = new Tensor('int64', BigInt64Array.from(ids, BigInt), [1, ids.length]);
      const mask = new Tensor('int64', new BigInt64Array(ids.length).fill(1n), [1, ids.length]);
      const output = (await model.generate({ input_ids: input, attention_mask: mask, max_new_tokens: MAX_NEW_TOKENS } as never)) as Tensor;
      expect(await serverGreedy(server, ids)).toEqual(Array.from(output.data as BigInt64Array, Number));
    }
  });
});

describe('transformers.js reads the files of the dtype it is given', () => {
  it('q8 on a folder without *_quantized files fails to load instead of falling back to another format', async () => {
    env.localModelPath = dirname(tinyModels.fp16Io);
    await expect(AutoModelForSeq2SeqLM.from_pretrained(basename(tinyModels.fp16Io), { dtype: 'q8' })).rejects.toThrow(/quantized/);
  });
});

/** GetModelInfo, ListProcessors, Tokenize and Detokenize answer from the served model and registry. */
import { status as Status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ParamType } from '../../../src/gen/stepwise/v1/stepwise.js';
import { BUILTIN_PROCESSORS } from '../../../src/processors/index.js';
import { loadModel } from '../../../src/runtime/index.js';
import type { ModelRuntime } from '../../../src/runtime/types.js';
import { tinyModels } from '../../fixtures/models.js';
import { unary } from '../../support/decode-client.js';
import { isServiceError, startTestServer, type TestServer } from '../../support/test-server.js';

let server: TestServer;
let reference: ModelRuntime;
beforeAll(async () => {
  server = await startTestServer({ modelDir: tinyModels.padded, limits: { maxNewTokens: 64, maxConcurrentStreams: 3 } });
  reference = await loadModel(tinyModels.padded);
});
afterAll(async () => {
  await server?.stop();
  await reference?.dispose();
});

describe('GetModelInfo', () => {
  it('describes the model (logits wider than the tokenizer here), its architecture and the limits', async () => {
    const info = await unary(server.client, 'getModelInfo', {});
    expect(info).toMatchObject({
      name: 'tiny-padded',
      vocabSize: reference.info.vocabSize,
      tokenizerSize: reference.tokenizer.size,
      maxInputLength: reference.info.maxInputLength,
      specialIds: { padTokenId: 0, eosTokenId: 1, decoderStartTokenId: 0 },
      config: {
        modelType: 't5',
        numLayers: reference.info.config.numLayers,
        numHeads: reference.info.config.numHeads,
        dModel: reference.info.config.dModel,
        feedForwardProj: 'relu',
        tieWordEmbeddings: true,
      },
      limits: { maxNewTokens: 64, maxConcurrentStreams: 3 },
    });
    expect(info.vocabSize).toBeGreaterThan(info.tokenizerSize);
  });
});

describe('ListProcessors', () => {
  it('lists every built-in processor with its parameters, types and ranges', async () => {
    const { processors } = await unary(server.client, 'listProcessors', {});
    expect(processors.map((p) => p.name).sort()).toEqual(BUILTIN_PROCESSORS.map((p) => p.name).sort());
    const topP = processors.find((p) => p.name === 'top_p');
    expect(topP?.parameters.find((p) => p.name === 'top_p')).toMatchObject({
      type: ParamType.PARAM_TYPE_FLOAT,
      required: true,
      range: '(0, 1]',
    });
    for (const p of processors) {
      expect(p.description).not.toBe('');
      for (const parameter of p.parameters) expect(parameter.type).not.toBe(ParamType.PARAM_TYPE_UNSPECIFIED);
    }
  });
});

describe('Tokenize and Detokenize', () => {
  const text = 'the small green house';

  it('tokenizes like the model tokenizer, with </s> unless special tokens are left out', async () => {
    const ids = reference.tokenizer.encode(text);
    const withEos = await unary(server.client, 'tokenize', { text });
    expect(withEos.tokenIds).toEqual(ids);
    expect(withEos.tokens).toEqual(ids.map((id) => reference.tokenizer.tokenString(id)));
    const withoutEos = await unary(server.client, 'tokenize', { text, addSpecialTokens: false });
    expect(withoutEos.tokenIds).toEqual(ids.slice(0, -1));
  });

  it('detokenizes back to the text, keeping or skipping special tokens', async () => {
    const ids = reference.tokenizer.encode(text);
    const skipped = await unary(server.client, 'detokenize', { tokenIds: ids, skipSpecialTokens: true });
    expect(skipped.text).toBe(text);
    const kept = await unary(server.client, 'detokenize', { tokenIds: ids, skipSpecialTokens: false });
    expect(kept.text).toBe(reference.tokenizer.decode(ids, { skipSpecialTokens: false }));
    expect(kept.text).toBe(`${text}</s>`);
    const empty = await unary(server.client, 'detokenize', { tokenIds: [], skipSpecialTokens: true });
    expect(empty.text).toBe('');
  });

  it('refuses an id outside the logits width with INVALID_ARGUMENT naming it', async () => {
    const error = await unary(server.client, 'detokenize', {
      tokenIds: [5, reference.info.vocabSize],
      skipSpecialTokens: false,
    }).catch((caught: unknown) => caught);
    expect(isServiceError(error) && error.code).toBe(Status.INVALID_ARGUMENT);
    expect(isServiceError(error) && error.details).toBe(`\`token_ids[1]\` must be in [0, ${reference.info.vocabSize}); given ${reference.info.vocabSize}`);
  });
});

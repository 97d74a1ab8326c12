/**
 * Bad model folders and bad calls end in the runtime's own errors, naming the file or field, what was
 * expected and what was found — never in a crash inside ONNX Runtime.
 */
import { copyFile, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  InvalidInputError,
  loadModel,
  ModelFolderError,
  StateError,
  type ModelRuntime,
} from '../../../src/runtime/index.js';
import { copyModelFolder, tinyModels, stateForText } from './runtime-test-kit.js';

async function editConfig(folder: string, edit: (config: Record<string, unknown>) => void, file = 'config.json') {
  const path = join(folder, file);
  const config = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  edit(config);
  await writeFile(path, JSON.stringify(config));
}

describe('a broken model folder fails to load with a ModelFolderError naming the file', () => {
  it('a folder that does not exist', async () => {
    await expect(loadModel('/nonexistent/stepwise-model')).rejects.toThrow(
      new ModelFolderError('/nonexistent/stepwise-model', 'model folder does not exist'),
    );
  });

  it.each([
    ['config.json', 'config.json: file is missing'],
    ['tokenizer.json', 'tokenizer.json: file is missing'],
    ['onnx/encoder_model.onnx', 'onnx/encoder_model.onnx: file is missing (dtype fp32)'],
  ])('missing %s', async (file, message) => {
    const folder = await copyModelFolder(tinyModels.reluTied);
    await rm(join(folder, file));
    const loading = loadModel(folder);
    await expect(loading).rejects.toThrow(ModelFolderError);
    await expect(loading).rejects.toThrow(message);
  });

  it('no merged decoder and only half of the split pair', async () => {
    const folder = await copyModelFolder(tinyModels.reluTied);
    await rm(join(folder, 'onnx', 'decoder_model_merged.onnx'));
    await rm(join(folder, 'onnx', 'decoder_with_past_model.onnx'));
    await expect(loadModel(folder)).rejects.toThrow(
      /onnx\/decoder_with_past_model\.onnx: file is missing .*needs onnx\/decoder_model\.onnx and onnx\/decoder_with_past_model\.onnx, and there is no onnx\/decoder_model_merged\.onnx either/,
    );
  });

  it('config.json without a shape field names the field', async () => {
    const folder = await copyModelFolder(tinyModels.reluTied);
    await editConfig(folder, (config) => delete config.num_heads);
    const loading = loadModel(folder);
    await expect(loading).rejects.toThrow(ModelFolderError);
    await expect(loading).rejects.toThrow('config.json: field `num_heads` is missing; expected an integer ≥ 1');
  });

  it('config.json without num_decoder_layers falls back to num_layers, as Python T5Config does', async () => {
    const folder = await copyModelFolder(tinyModels.reluTied);
    await editConfig(folder, (config) => delete config.num_decoder_layers);
    const model = await loadModel(folder);
    expect(model.info.config.numDecoderLayers).toBe(model.info.config.numLayers);
    await model.dispose();
  });

  it('config.json with a field of the wrong type names the field and the value found', async () => {
    const folder = await copyModelFolder(tinyModels.reluTied);
    await editConfig(folder, (config) => (config.d_model = '32'));
    await expect(loadModel(folder)).rejects.toThrow('config.json: field `d_model` must be an integer ≥ 1; found "32"');
  });

  it('config.json of another model type', async () => {
    const folder = await copyModelFolder(tinyModels.reluTied);
    await editConfig(folder, (config) => (config.model_type = 'bart'));
    await expect(loadModel(folder)).rejects.toThrow('config.json: field `model_type` must be one of t5, mt5; found "bart"');
  });

  it('generation_config.json with an eos id outside the vocabulary', async () => {
    const folder = await copyModelFolder(tinyModels.reluTied);
    await editConfig(folder, (config) => (config.eos_token_id = [1, 99999]), 'generation_config.json');
    await expect(loadModel(folder)).rejects.toThrow(/generation_config\.json: field `eos_token_id` must be in \[0, \d+\) \(vocab_size\); found 99999/);
  });

  it('config.json that is not JSON', async () => {
    const folder = await copyModelFolder(tinyModels.reluTied);
    await writeFile(join(folder, 'config.json'), '{ "model_type": ');
    await expect(loadModel(folder)).rejects.toThrow(/^config\.json: is not valid JSON/);
  });

  it('an encoder file in place of the merged decoder: the inputs do not match the contract', async () => {
    const folder = await copyModelFolder(tinyModels.reluTied);
    await copyFile(join(folder, 'onnx', 'encoder_model.onnx'), join(folder, 'onnx', 'decoder_model_merged.onnx'));
    const loading = loadModel(folder);
    await expect(loading).rejects.toThrow(ModelFolderError);
    await expect(loading).rejects.toThrow(
      'onnx/decoder_model_merged.onnx: does not have the inputs of a T5 merged decoder (decoder_model_merged.onnx): ' +
        'missing `encoder_attention_mask`, `encoder_hidden_states`, `past_key_values.0.decoder.key`',
    );
    await expect(loading).rejects.toThrow('the file has inputs `input_ids`, `attention_mask`');
  });

  it('a config whose num_heads differs from the ONNX files: the static dim is named with both values', async () => {
    const folder = await copyModelFolder(tinyModels.reluTied);
    const heads = (JSON.parse(await readFile(join(folder, 'config.json'), 'utf8')) as { num_heads: number }).num_heads;
    await editConfig(folder, (config) => (config.num_heads = heads * 2));
    await expect(loadModel(folder)).rejects.toThrow(
      `onnx/decoder_model_merged.onnx: input \`past_key_values.0.decoder.key\` must be float32 [batch_size, ${heads * 2}, ` +
        `past_decoder_sequence_length, 8]; found float32 [batch_size, ${heads}, past_decoder_sequence_length, 8] ` +
        `(axis 1 (num_heads) is ${heads}; config.json says ${heads * 2})`,
    );
  });

  it('a config with fewer decoder layers than the file: the extra cache inputs are named', async () => {
    const folder = await copyModelFolder(tinyModels.reluTied);
    await editConfig(folder, (config) => (config.num_decoder_layers = 1));
    await expect(loadModel(folder)).rejects.toThrow(
      /onnx\/decoder_model_merged\.onnx: has inputs the T5 merged decoder .* contract does not define: `past_key_values\.1\.decoder\.key`/,
    );
  });

  it('a file that is not ONNX at all', async () => {
    const folder = await copyModelFolder(tinyModels.reluTied);
    await writeFile(join(folder, 'onnx', 'encoder_model.onnx'), 'not a model');
    await expect(loadModel(folder)).rejects.toThrow(/^onnx\/encoder_model\.onnx: ONNX Runtime cannot load it/);
  });

  it('unknown load options are rejected by name', async () => {
    await expect(loadModel(tinyModels.reluTied, { dtype: 'fp64' as never })).rejects.toThrow(
      '`dtype` must be one of fp32, fp16, q8, int8, uint8, q4, q4f16, bnb4; given "fp64"',
    );
    await expect(loadModel(tinyModels.reluTied, { intraOpNumThreads: 0 })).rejects.toThrow(
      '`intraOpNumThreads` must be an integer ≥ 1; given 0',
    );
  });
});

describe('bad calls are rejected before anything runs', () => {
  let model: ModelRuntime;

  beforeAll(async () => {
    model = await loadModel(tinyModels.reluTied, { maxInputLength: 20 });
  });
  afterAll(async () => {
    await model.dispose();
  });

  it('encoder ids outside [0, vocab_size) name the position, the range and the value', async () => {
    const vocab = model.info.vocabSize;
    await expect(model.encode([[5, 6, vocab + 294, 1]])).rejects.toThrow(
      new InvalidInputError(`input_ids[2] must be an integer in [0, ${vocab}); given ${vocab + 294}`),
    );
    await expect(model.encode([[5, 1], [4, -1]])).rejects.toThrow(`inputs[1][1] must be an integer in [0, ${vocab}); given -1`);
    await expect(model.encode([[5, 2.5]])).rejects.toThrow(`input_ids[1] must be an integer in [0, ${vocab}); given 2.5`);
  });

  it('an empty encoder input', async () => {
    await expect(model.encode([[]])).rejects.toThrow(
      new InvalidInputError('input_ids is empty; the encoder needs at least one token (T5 inputs end with </s>)'),
    );
  });

  it('an encoder input longer than maxInputLength', async () => {
    await expect(model.encode([Array.from({ length: 21 }, () => 5)])).rejects.toThrow(
      "input_ids has 21 tokens; at most 20 (the model's maximum input length) are accepted",
    );
  });

  it('appended tokens and decoder prefixes outside the vocabulary', async () => {
    const [encoded] = await model.encode([[5, 1]]);
    expect(() => model.createState(encoded!, [3, model.info.vocabSize])).toThrow(
      `decoderPrefix[1] must be an integer in [0, ${model.info.vocabSize}); given ${model.info.vocabSize}`,
    );
    const state = model.createState(encoded!);
    expect(() => state.append(model.info.vocabSize)).toThrow(InvalidInputError);
    expect(() => state.append(model.info.vocabSize)).toThrow(`token must be an integer in [0, ${model.info.vocabSize}); given ${model.info.vocabSize}`);
    expect(state.tokens).toEqual([0]);
    state.dispose();
  });

  it('appending to, rewinding or stepping a disposed state is a StateError', async () => {
    const state = await stateForText(model, 'hello');
    await model.step([state]);
    state.dispose();
    expect(state.disposed).toBe(true);
    expect(() => state.append(3)).toThrow(new StateError(`cannot append a token: decode state ${state.id} is disposed`));
    expect(() => state.rewind(0)).toThrow(StateError);
    await expect(model.step([state])).rejects.toThrow(`states[0] (decode state ${state.id}) is disposed`);
    state.dispose(); // idempotent
  });

  it('stepping without a new token, or the same state twice in one call', async () => {
    const state = await stateForText(model, 'hello');
    await model.step([state]);
    await expect(model.step([state])).rejects.toThrow(
      new StateError(`states[0] (decode state ${state.id}) has no new token; append one before the next step`),
    );
    state.append(4);
    await expect(model.step([state, state])).rejects.toThrow(
      'states[1] is the same decode state as states[0]; a state steps once per call',
    );
    state.dispose();
  });

  it('appending while a step runs on the state', async () => {
    const state = await stateForText(model, 'hello');
    const stepping = model.step([state]);
    expect(() => state.append(4)).toThrow(`cannot append a token: a step is running on decode state ${state.id}`);
    await stepping;
    state.dispose();
  });

  it('an encoded input or state of another model', async () => {
    const other = await loadModel(tinyModels.reluTied);
    const [foreign] = await other.encode([[5, 1]]);
    expect(() => model.createState(foreign!)).toThrow("`encoded` must come from this model's encode()");
    const foreignState = other.createState(foreign!);
    await expect(model.step([foreignState])).rejects.toThrow('states[0] is not a decode state of this model');
    await other.dispose();
  });

  it('a disposed model refuses work', async () => {
    const disposable = await loadModel(tinyModels.reluTied, { name: 'short-lived' });
    await disposable.dispose();
    await expect(disposable.encode([[1]])).rejects.toThrow(new StateError('cannot encode: model short-lived is disposed'));
  });
});

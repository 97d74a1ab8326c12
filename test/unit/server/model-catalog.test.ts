/**
 * The model catalog a server's requests choose from: '' is the default (the first given), a name is that
 * model, an unknown name is NOT_FOUND listing the names served. The intra-op threads of several models
 * share the cores unless a count is given.
 */
import { status as Status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { ModelCatalog } from '../../../src/server/model-catalog.js';
import { servedModels, withThreadShare } from '../../../src/server/served-models.js';
import { DEFAULT_SERVER_LIMITS } from '../../../src/server/server-limits.js';
import { ServerError } from '../../../src/server/status.js';
import { FakeModel } from './fake-model.js';

function catalogOf(...names: string[]): ModelCatalog {
  return new ModelCatalog(names.map((name) => ({ name, runtime: new FakeModel(), limits: DEFAULT_SERVER_LIMITS })));
}

describe('ModelCatalog', () => {
  it('resolves the empty name to the first model, the default', () => {
    const catalog = catalogOf('small', 'flan');
    expect(catalog.resolve('').name).toBe('small');
    expect(catalog.default.isDefault).toBe(true);
    expect(catalog.resolve('flan').isDefault).toBe(false);
    expect(catalog.names).toEqual(['small', 'flan']);
  });

  it('answers an unknown name with NOT_FOUND naming the field and every model served', () => {
    const catalog = catalogOf('small', 'flan');
    let error: unknown;
    try {
      catalog.resolve('t5-large', 'requests[2].model');
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ServerError);
    expect((error as ServerError).code).toBe(Status.NOT_FOUND);
    expect((error as ServerError).message).toBe('`requests[2].model` must be one of the served models "small", "flan"; given "t5-large"');
  });

  it('cuts a long unknown name short in its message', () => {
    expect(() => catalogOf('a').resolve('x'.repeat(10_000))).toThrow(/given "x{64}"… \(10000 characters\)$/);
  });

  it('refuses two models with one name', () => {
    expect(() => catalogOf('a', 'a')).toThrow('two models are named "a"');
  });
});

describe('servedModels', () => {
  it('serves one folder under its folder name, with the load options untouched', () => {
    const load = { runAhead: true };
    expect(servedModels(undefined, 'models/t5-small/', load, 8)).toEqual({ models: [{ name: 't5-small', dir: 'models/t5-small/', named: false }], load });
  });

  it('gives each of several models an equal share of the cores when no thread count is given', () => {
    const { models, load } = servedModels([{ name: 'a', dir: 'x' }, { name: 'b', dir: 'y' }, { name: 'c', dir: 'z' }], undefined, {}, 8);
    expect(models.map((model) => model.named)).toEqual([true, true, true]);
    expect(load.intraOpNumThreads).toBe(2);
    expect(withThreadShare({}, 4, 2).intraOpNumThreads).toBe(1);
  });

  it('keeps a given thread count for each model', () => {
    expect(withThreadShare({ intraOpNumThreads: 3 }, 2, 2).intraOpNumThreads).toBe(3);
  });

  it('refuses two models with one name, naming both folders', () => {
    expect(() => servedModels([{ name: 'a', dir: 'x' }, { name: 'a', dir: 'y' }], undefined, {}, 8)).toThrow('two models are named "a": x and y');
  });
});

/**
 * The models one server hosts, by name: each with its runtime (its own model thread behind its own
 * `StepScheduler`, so one model's runs never wait for another's), the limits requests to it get, and its
 * folder's `generation_config.json` defaults. A request chooses one by name (`Start.model`,
 * `ScoreRequest.model`, ...); an empty name means the default, the first the server was given.
 *
 * ```ts
 * const catalog = new ModelCatalog([{ name: 't5-small', runtime, limits }, { name: 'flan', runtime: other, limits }]);
 * const { runtime, limits, defaults } = catalog.resolve(request.model);   // '' → 't5-small'
 * catalog.resolve('nope');   // NOT_FOUND: "`model` must be one of "t5-small", "flan"; given "nope""
 * ```
 */
import type { ModelRuntime } from '../runtime/types.js';
import { ModelDefaults } from './model-defaults.js';
import type { ServerLimits } from './server-limits.js';
import { notFound } from './status.js';

/** What the catalog is given of each model. */
export interface CatalogEntry {
  /** The name requests use (`--model NAME=DIR`, else the folder's name). */
  readonly name: string;
  /** The model, behind its scheduler. */
  readonly runtime: ModelRuntime;
  /** The limits of requests to this model (the model's own input length bounds `maxInputTokens`). */
  readonly limits: ServerLimits;
}

/** One served model, as requests see it. */
export interface CatalogModel extends CatalogEntry {
  /** Whether requests naming no model go to it. */
  readonly isDefault: boolean;
  /** The model folder's `generation_config.json`, read once. */
  readonly defaults: ModelDefaults;
}

export class ModelCatalog {
  private readonly byName = new Map<string, CatalogModel>();
  /** Every model, in the order given: the default first. */
  readonly models: readonly CatalogModel[];

  constructor(entries: readonly CatalogEntry[]) {
    if (entries.length === 0) throw new RangeError('a server needs at least one model');
    this.models = entries.map((entry, index) => ({
      ...entry,
      isDefault: index === 0,
      defaults: new ModelDefaults(entry.runtime.info.generation),
    }));
    for (const model of this.models) {
      if (this.byName.has(model.name)) throw new RangeError(`two models are named "${model.name}"`);
      this.byName.set(model.name, model);
    }
  }

  /** The model requests naming none go to. */
  get default(): CatalogModel {
    return this.models[0]!;
  }

  /** The names served, the default first. */
  get names(): readonly string[] {
    return this.models.map((model) => model.name);
  }

  /**
   * The model a request names in `field` ('' → the default); an unknown name is NOT_FOUND, listing the
   * names served.
   */
  resolve(name: string, field = 'model'): CatalogModel {
    if (name === '') return this.default;
    const model = this.byName.get(name);
    if (model === undefined) {
      const names = this.names.map((known) => JSON.stringify(known)).join(', ');
      const given = name.length > 64 ? `${JSON.stringify(name.slice(0, 64))}… (${name.length} characters)` : JSON.stringify(name);
      throw notFound(`\`${field}\` must be one of the served models ${names}; given ${given}`);
    }
    return model;
  }
}

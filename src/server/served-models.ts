/**
 * Which models a server loads, and how ONNX Runtime's intra-op threads are shared among them.
 *
 * Each model runs on its own thread with its own ONNX Runtime sessions, and each session has its own
 * intra-op thread pool (ONNX Runtime's default: one thread per core). Several models left at that default
 * would each start a pool as large as the machine, and two models decoding at once would then fight for
 * every core with spinning threads. So when several models are served and no thread count is given
 * (`--threads`), each model gets an equal share of the cores: `max(1, floor(cores / models))`. A count
 * that is given applies to each model as it is (e.g. `--threads 1` with four models on four cores).
 *
 * ```ts
 * const { models, load } = servedModels([{ name: 'a', dir: 'models/a' }, { name: 'b', dir: 'models/b' }], undefined, {});
 * // on 8 cores: load.intraOpNumThreads === 4
 * ```
 */
import { availableParallelism } from 'node:os';
import { basename, resolve } from 'node:path';
import type { WorkerModelOptions } from '../runtime/worker/index.js';

/** One model to serve: the name requests use, and its folder. */
export interface ServedModel {
  readonly name: string;
  readonly dir: string;
}

export interface ServedModels {
  /** The models, the default first; `named`: the name is given, not the folder's (pass it to the loader). */
  readonly models: readonly (ServedModel & { readonly named: boolean })[];
  /** The load options of every model, with its share of intra-op threads. */
  readonly load: WorkerModelOptions;
}

/** The models to load: `models` when given, else the one folder `modelDir` (named after it). */
export function servedModels(
  models: readonly ServedModel[] | undefined,
  modelDir: string | undefined,
  load: WorkerModelOptions,
  cores = availableParallelism(),
): ServedModels {
  if (models !== undefined && models.length > 0) {
    const seen = new Map<string, string>();
    for (const { name, dir } of models) {
      const other = seen.get(name);
      if (other !== undefined) throw new RangeError(`two models are named "${name}": ${other} and ${dir}; give each its own name`);
      seen.set(name, dir);
    }
    return { models: models.map((model) => ({ ...model, named: true })), load: withThreadShare(load, models.length, cores) };
  }
  if (modelDir === undefined) throw new RangeError('no model to serve: give `modelDir` or `models`');
  return { models: [{ name: basename(resolve(modelDir)), dir: modelDir, named: false }], load };
}

/** `load` with each of `count` models' intra-op threads: as given, else an equal share of the cores. */
export function withThreadShare(load: WorkerModelOptions, count: number, cores: number): WorkerModelOptions {
  if (count < 2 || load.intraOpNumThreads !== undefined) return load;
  return { ...load, intraOpNumThreads: Math.max(1, Math.floor(cores / count)) };
}

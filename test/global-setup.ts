/**
 * Runs once before every test file: makes sure the cache folder exists and builds the tiny model
 * fixtures (by the project's own builder) so that every file shares them. Folders already built with
 * the same options by the same builder are reused. It also builds the embedded model that `stepwise serve`
 * children (started by several test files at once) load by default, so that none of them has to build it.
 */
import { mkdirSync } from 'node:fs';
import { ensureModel } from '../src/builder/build-model.js';
import { ensureEmbeddedModel } from '../src/embedded-model.js';
import { tinyModelFolder, tinyModelOptions, type TinyModelName } from './fixtures/models.js';

export default async function setup(): Promise<void> {
  mkdirSync('.cache', { recursive: true });
  for (const name of Object.keys(tinyModelOptions) as TinyModelName[]) {
    await ensureModel({ ...tinyModelOptions[name], out: tinyModelFolder(name) });
  }
  await ensureEmbeddedModel();
}

/**
 * Runs once before every test file: makes sure the cache folder exists and builds the tiny model
 * fixtures (by the project's own builder) so that every file shares them. Folders already built with
 * the same options by the same builder are reused.
 */
import { mkdirSync } from 'node:fs';
import { ensureModel } from '../src/builder/build-model.js';
import { tinyModelFolder, tinyModelOptions, type TinyModelName } from './fixtures/models.js';

export default async function setup(): Promise<void> {
  mkdirSync('.cache', { recursive: true });
  for (const name of Object.keys(tinyModelOptions) as TinyModelName[]) {
    await ensureModel({ ...tinyModelOptions[name], out: tinyModelFolder(name) });
  }
}

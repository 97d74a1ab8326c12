/**
 * The embedded model: a tiny T5 with random weights, built by the project's own builder into
 * `.cache/models/default` of the installation on first use, so that `stepwise serve` and `startServer()`
 * work without downloading anything.
 */
import { dirname, join } from 'node:path';
import { ensureModel } from './builder/index.js';
import { locateProtoRoot } from './server/proto-files.js';

/** Where the embedded model is built: `.cache/models/default` in the installation's root. */
export function embeddedModelFolder(): string {
  return join(dirname(locateProtoRoot()), '.cache', 'models', 'default');
}

/** Builds the embedded model unless it is there already; resolves with its folder and whether it was built now. */
export async function ensureEmbeddedModel(): Promise<{ folder: string; built: boolean }> {
  const folder = embeddedModelFolder();
  const built = await ensureModel({ preset: 'tiny', seed: 0, out: folder });
  return { folder, built };
}

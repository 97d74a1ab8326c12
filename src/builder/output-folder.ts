/**
 * Where a build may write. An existing output is replaced only when it is a model folder the builder wrote
 * itself (it holds the build record), an empty folder, or the caller forces it: a build replaces the whole
 * folder, and `make-model --out .` must not delete a project's files.
 */
import { lstat, readdir } from 'node:fs/promises';
import { parse } from 'node:path';
import { onFile } from './file-errors.js';

/** The file that records how a folder was built: its presence marks a folder the builder wrote. */
export const buildStampFile = '.stepwise-build.json';

/** `out` may not be replaced without `force`; the message says what is there and what to do. */
export class OutputFolderRefused extends Error {
  override readonly name = 'OutputFolderRefused';
}

/** How many of a refused folder's entries the message names. */
const ENTRIES_NAMED = 3;

/** Throws unless `out` (absolute) is missing, empty, a folder the builder wrote, or `force` is set. */
export async function checkReplaceable(out: string, force: boolean): Promise<void> {
  if (parse(out).root === out) throw new OutputFolderRefused(`${out} is the root of the file system; choose a folder for the model with --out`);
  const found = await onFile('read', out, () => lstat(out)).catch((error: unknown) => {
    if ((error as { code?: string }).code === 'ENOENT') return undefined;
    throw error;
  });
  if (found === undefined || force) return;
  if (!found.isDirectory()) {
    throw new OutputFolderRefused(`${out} exists and is not a folder; choose another --out, or add --force to replace it`);
  }
  const entries = (await onFile('read the folder', out, () => readdir(out))).sort();
  if (entries.length === 0 || entries.includes(buildStampFile)) return;
  const named = entries.slice(0, ENTRIES_NAMED).join(', ');
  const more = entries.length > ENTRIES_NAMED ? ` and ${entries.length - ENTRIES_NAMED} more` : '';
  throw new OutputFolderRefused(
    `${out} exists and is not a model folder written by make-model (it has no ${buildStampFile}; it holds ${named}${more}); ` +
      'choose another --out, or add --force to replace the folder and everything in it',
  );
}

#!/usr/bin/env node
/**
 * Fails (exit 1) when `src/gen/` or the client package's copy `clients/ts/gen/` is not exactly what
 * `buf generate` makes of `proto/` today, or when the proto no longer passes `buf lint`. Generation runs into
 * a temporary folder, so the working tree is never touched: a stale checkout stays visible instead of being
 * silently repaired.
 *
 * Usage: `npm run check:generated` (also run by the unit test `test/unit/server/generated-code.test.ts`).
 * An optional argument names another folder to check in place of `src/gen/`, and `--client DIR` one in
 * place of `clients/ts/gen/` (the test uses them to prove that a stale copy is caught).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const clientFlag = args.indexOf('--client');
const clientOverride = clientFlag >= 0 ? args.splice(clientFlag, 2)[1] : undefined;
/** Each output of buf.gen.yaml (relative to the root, as `buf generate -o` writes it) and the folder to compare with it. */
const outputs = [
  ['src/gen', args[0] ?? join(root, 'src', 'gen')],
  ['clients/ts/gen', clientOverride ?? join(root, 'clients', 'ts', 'gen')],
];
const buf = join(root, 'node_modules', '.bin', 'buf');

/** Runs buf in the repository root; returns its combined output, or throws with it when buf fails. */
function runBuf(args) {
  const result = spawnSync(buf, args, { cwd: root, encoding: 'utf8' });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`.trim();
  if (result.error) throw new Error(`could not run ${buf}: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`buf ${args.join(' ')} failed:\n${output}`);
  return output;
}

/** Every file under `dir`, as paths relative to it, sorted. */
function listFiles(dir) {
  let found = [];
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return found;
  }
  for (const entry of entries) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) found = found.concat(listFiles(path).map((p) => join(entry, p)));
    else found.push(entry);
  }
  return found.sort();
}

/** Differences between the committed tree and the fresh one, one line each. */
function compareTrees(committed, fresh) {
  const problems = [];
  const committedFiles = new Set(listFiles(committed));
  const freshFiles = new Set(listFiles(fresh));
  for (const file of freshFiles) {
    if (!committedFiles.has(file)) problems.push(`missing: ${file}`);
    else if (!readFileSync(join(committed, file)).equals(readFileSync(join(fresh, file)))) {
      problems.push(`stale:   ${file}`);
    }
  }
  for (const file of committedFiles) {
    if (!freshFiles.has(file)) problems.push(`extra:   ${file} (no longer generated)`);
  }
  return problems;
}

/** A folder as messages name it: relative to the root when inside it. */
function shown(dir) {
  const path = relative(root, dir);
  return path !== '' && !path.startsWith('..') ? path : dir;
}

const scratch = mkdtempSync(join(tmpdir(), 'stepwise-gen-'));
let problems;
try {
  runBuf(['lint']);
  // `-o` prefixes each output of the template (`out: src/gen`), so the fresh tree lands in <scratch>/src/gen.
  runBuf(['generate', '-o', scratch]);
  problems = outputs.flatMap(([out, committedDir]) =>
    compareTrees(committedDir, join(scratch, out)).map((problem) => `${shown(committedDir)}: ${problem}`),
  );
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}

const checked = outputs.map(([, committedDir]) => `${shown(committedDir)}/`).join(' and ');
if (problems.length > 0) {
  process.stderr.write(
    `${checked} do not match proto/ (run \`npm run generate\` and commit the result):\n  ${problems.join('\n  ')}\n`,
  );
  process.exit(1);
}
process.stdout.write(`${checked} are up to date with proto/\n`);

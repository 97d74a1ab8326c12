#!/usr/bin/env node
/**
 * `npm ci` / `npm install` builds the server once (`dist/`), so that `npm start` runs compiled code at once.
 * An install without dev dependencies (`npm ci --omit=dev`, as a container image's last stage does) has no
 * TypeScript: there the build must already be in place (copied from a build stage), and it is only checked.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
let tsc;
try {
  tsc = require.resolve('typescript/bin/tsc');
} catch {
  tsc = undefined;
}
if (tsc === undefined) {
  if (existsSync('dist/src/cli.js')) process.exit(0);
  console.error('prepare: TypeScript is not installed (dev dependencies left out) and dist/ holds no build; build first with `npm ci && npm run build`, then copy dist/');
  process.exit(1);
}
const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
process.exit(result.status ?? 1);

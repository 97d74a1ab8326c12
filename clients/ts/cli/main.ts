#!/usr/bin/env node
/**
 * The client's command line, `stepwise-client decode "TEXT"` and `stepwise-client score "INPUT" "TARGET"...` (in
 * this repository: `npm run client -- decode`, `npm run client -- score`):
 * talks to a running server and needs nothing of the server's code (no ONNX Runtime, no model), so it lives
 * with the client library and ships as the `stepwise-client` package's bin. It is not called `stepwise`:
 * that is the server package's bin, and a project that installs both would have two packages claiming
 * `node_modules/.bin/stepwise`.
 */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { register as registerDecode } from './decode-command.js';
import { register as registerScore } from './score-command.js';

/** The client package's version (package.json sits one folder up from `cli/`, two from `dist/cli/`). */
function packageVersion(): string {
  for (const path of ['../package.json', '../../package.json']) {
    try {
      const { name, version } = JSON.parse(readFileSync(new URL(path, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (name === 'stepwise-client' && version !== undefined) return version;
    } catch {
      // Not this one: try the next.
    }
  }
  return 'unknown';
}

const program = new Command()
  .name('stepwise-client')
  .description('Client commands for a running Stepwise server.')
  .version(packageVersion(), '-V, --version', 'print the version and exit')
  .showHelpAfterError();
registerDecode(program);
registerScore(program);
await program.parseAsync(process.argv);

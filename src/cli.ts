#!/usr/bin/env node
/**
 * The server's `stepwise` command line: one entry point, one module per subcommand (loaded on demand so
 * that `make-model` does not pay for gRPC). The client's `decode` command lives with the client
 * (`clients/ts/cli/main.ts`).
 */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';

/** The installed package's version (package.json sits two folders up from both `src/` and `dist/src/`). */
function packageVersion(): string {
  for (const path of ['../package.json', '../../package.json']) {
    try {
      const { name, version } = JSON.parse(readFileSync(new URL(path, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (name === 'stepwise' && version !== undefined) return version;
    } catch {
      // Not this one: try the next.
    }
  }
  return 'unknown';
}

const program = new Command()
  .name('stepwise')
  .description('Step-by-step decoding of encoder-decoder models over gRPC, with the raw logits of every step.')
  .version(packageVersion(), '-V, --version', 'print the version and exit')
  .showHelpAfterError();

const subcommands: ReadonlyArray<readonly [string, () => Promise<{ register(parent: Command): void }>]> = [
  ['serve', () => import('./cli/serve-command.js')],
  ['make-model', () => import('./cli/make-model-command.js')],
];

const wanted = process.argv[2];
for (const [name, load] of subcommands) {
  // Only the module of the subcommand asked for is imported; `--help` lists every one.
  if (wanted === name || wanted === undefined || (wanted.startsWith('-') && wanted !== '-V' && wanted !== '--version') || wanted === 'help') {
    (await load()).register(program);
  }
}
await program.parseAsync(process.argv);

/**
 * `npm run bench:ablation -- --variants a,b,c [--reps N] [--prompts N]`: the same Stepwise server with one
 * optimisation switched off at a time, measured in one run, so that each one's gain can be set against the
 * run-to-run spread.
 *
 * Every variant is a server child of its own (composed as `stepwise serve` composes it, over the benchmark
 * model), with a client child of its own. Measurements are paired: each prompt is decoded by every variant
 * back to back, in an order rotated from pair to pair (so a slow moment of the machine hits all of them),
 * AUTO and LOCKSTEP one prompt at a time; then, once per repetition, all prompts as concurrent AUTO streams
 * started together. The report gives, per variant and figure, the median of its ratios to the first
 * variant and their interquartile range. Name the first variant twice (`all,all,...`): the ratios of the
 * copy to the original are the spread of two identical servers, which a kept optimisation must clearly
 * beat. With `--before DIR`, one more variant is the server of another checkout (say, the code before a
 * change, in a git worktree): the same pairing then compares two versions of the code.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { HuggingFaceTextTokenizer, readModelConfig } from '../src/runtime/index.js';
import { BENCH_MODEL_FOLDER, benchPrompts, ensureBenchModel } from './bench-model.js';
import { ask, firstAnswer, type ClientAnswer, type ServerAnswer, type ServerChildConfig } from './ipc.js';
import { median, percentile, round } from './stats.js';

/** What a variant changes in the server: its composition, and environment switches read at start-up. */
interface Variant {
  readonly description: string;
  readonly config: Partial<ServerChildConfig>;
  readonly env?: Readonly<Record<string, string>>;
}

const VARIANTS: Readonly<Record<string, Variant>> = {
  all: { description: 'the server as `stepwise serve` runs it', config: {} },
  'no-thread-run-ahead': {
    description: 'the model thread does not run a step ahead on the expected token (`--run-ahead off`)',
    config: { runAhead: false },
  },
  'no-envelope': {
    description: 'logits messages encoded by the generated encoder, no reused envelope memory (`responseEncoding: generated`)',
    config: { responseEncoding: 'generated' },
  },
  'no-wasm': {
    description: 'argmax and score statistics in plain JavaScript loops, no WebAssembly kernel (`STEPWISE_EXP_SUMS_KERNEL=off`)',
    config: {},
    env: { STEPWISE_EXP_SUMS_KERNEL: 'off' },
  },
};

type Figure = 'auto' | 'lockstep' | 'concurrent';
const FIGURES: readonly Figure[] = ['auto', 'lockstep', 'concurrent'];

const log = (line: string) => process.stderr.write(`${line}\n`);

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      variants: { type: 'string', default: 'all,all,no-thread-run-ahead,no-envelope,no-wasm' },
      reps: { type: 'string', default: '5' },
      prompts: { type: 'string', default: '16' },
      'new-tokens': { type: 'string', default: '64' },
      before: { type: 'string' },
    },
  });
  const names = values.variants.split(',').map((name) => name.trim());
  for (const name of names) {
    if (VARIANTS[name] === undefined) throw new Error(`unknown variant ${name}; known: ${Object.keys(VARIANTS).join(', ')}`);
  }
  // `--before DIR`: one more variant, the server of another checkout (earlier code) with its defaults.
  const roots = names.map(() => fileURLToPath(new URL('..', import.meta.url)));
  if (values.before !== undefined) {
    names.push('before');
    roots.push(values.before);
  }
  const reps = Number(values.reps);
  const newTokens = Number(values['new-tokens']);
  await ensureBenchModel();
  const { config } = await readModelConfig(BENCH_MODEL_FOLDER);
  const tokenizer = await HuggingFaceTextTokenizer.load(BENCH_MODEL_FOLDER);
  const all = benchPrompts((text) => tokenizer.encode(text), config.eosTokenId, 16, 32);
  const prompts = all.slice(0, Number(values.prompts));

  const servers: Array<{ child: ChildProcess; port: number }> = [];
  const clients: ChildProcess[] = [];
  try {
    for (const [index, name] of names.entries()) {
      const variant: Variant = VARIANTS[name] ?? { description: 'before', config: {} };
      servers.push(await startServer(roots[index]!, { modelDir: BENCH_MODEL_FOLDER, ...variant.config }, variant.env ?? {}));
    }
    for (const server of servers) clients.push(await startClient(`127.0.0.1:${server.port}`));
    log('warming up ...');
    for (const client of clients) {
      await ask(client, { kind: 'one-by-one', mode: 'lockstep', prompts: prompts.slice(0, 1), newTokens: 8 });
      await ask(client, { kind: 'concurrent', prompts: all, newTokens: 8, staggerMs: 0 });
    }
    // msPerToken[figure][variant][pair]: one entry per (repetition, prompt) for the one-at-a-time figures,
    // one per repetition for the concurrent one.
    const msPerToken: Record<Figure, number[][]> = { auto: [], lockstep: [], concurrent: [] };
    for (const figure of FIGURES) msPerToken[figure] = names.map(() => []);
    let pair = 0;
    for (let rep = 0; rep < reps; rep++) {
      log(`repetition ${rep + 1} of ${reps} ...`);
      for (const prompt of prompts) {
        for (const index of rotated(names.length, pair++)) {
          for (const mode of ['auto', 'lockstep'] as const) {
            const run = await ask<Extract<ClientAnswer, { kind: 'one-by-one' }>>(clients[index]!, { kind: 'one-by-one', mode, prompts: [prompt], newTokens });
            msPerToken[mode][index]!.push(run.ms[0]! / newTokens);
          }
        }
      }
      for (const index of rotated(names.length, rep)) {
        const together = await ask<Extract<ClientAnswer, { kind: 'concurrent' }>>(clients[index]!, { kind: 'concurrent', prompts: all, newTokens, staggerMs: 0 });
        msPerToken.concurrent[index]!.push(together.wallMs / (all.length * newTokens));
      }
    }
    report(names, msPerToken);
  } finally {
    for (const client of clients) await ask(client, { kind: 'stop' }).catch(() => client.kill());
    for (const server of servers) await ask(server.child, { kind: 'stop' }).catch(() => server.child.kill());
  }
}

function report(names: readonly string[], msPerToken: Record<Figure, number[][]>): void {
  const lines = [
    `| variant | ${FIGURES.map((figure) => `${figure} ms/token | ÷ ${names[0]} (IQR)`).join(' | ')} |`,
    `| --- | ${FIGURES.map(() => '---: | ---:').join(' | ')} |`,
  ];
  names.forEach((name, index) => {
    const cells = FIGURES.map((figure) => {
      const own = msPerToken[figure][index]!;
      const ratios = own.map((ms, pair) => ms / msPerToken[figure][0]![pair]!);
      return `${round(median(own))} | ${round(median(ratios))} (${round(percentile(ratios, 25))}–${round(percentile(ratios, 75))})`;
    });
    lines.push(`| ${name} | ${cells.join(' | ')} |`);
  });
  process.stdout.write(`${lines.join('\n')}\n\n`);
  for (const name of new Set(names)) process.stdout.write(`- ${name}: ${VARIANTS[name]?.description ?? 'the server of the checkout given with --before'}\n`);
  process.stdout.write(`${JSON.stringify({ names, msPerToken })}\n`);
}

/** The indexes 0..count-1, starting at `shift` modulo `count`. */
function rotated(count: number, shift: number): number[] {
  return Array.from({ length: count }, (_, index) => (index + shift) % count);
}

async function startServer(root: string, config: ServerChildConfig, env: Readonly<Record<string, string>>): Promise<{ child: ChildProcess; port: number }> {
  // Switches read when the server's modules load; the environment is there before they do.
  // In its checkout's folder: tsx takes that checkout's tsconfig.json (decorators) from there.
  const child = fork(join(root, 'bench', 'server-process.ts'), [JSON.stringify(config)], {
    cwd: root,
    execArgv: [...process.execArgv, '--expose-gc'],
    env: { ...process.env, ...env },
  });
  const ready = await firstAnswer<ServerAnswer>(child);
  if (ready.kind !== 'ready') throw new Error(`the server child answered ${ready.kind} instead of ready`);
  return { child, port: ready.port };
}

async function startClient(address: string): Promise<ChildProcess> {
  const child = fork(fileURLToPath(new URL('./client-process.ts', import.meta.url)), [address], { execArgv: process.execArgv });
  await firstAnswer<ClientAnswer>(child);
  return child;
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});

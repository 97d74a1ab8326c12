/**
 * `npm run bench:ablation -- --variants a,b,c [--reps N] [--prompts N]`: the same Stepwise server with one
 * optimisation switched off at a time, measured in one run, so that each one's gain can be set against the
 * run-to-run spread.
 *
 * Every variant is a server child of its own (composed as `stepwise serve` composes it, over the benchmark
 * model); one client child drives them all. A repetition measures every variant in turn, in a rotated
 * order (so a slow moment of the machine hits all of them): AUTO and LOCKSTEP one prompt at a time, then
 * all prompts as concurrent AUTO streams started together. The report gives, per variant and figure, the
 * median over repetitions of its ratio to the first variant, with the range of that ratio. Name the first
 * variant twice (`all,all,...`): the ratio of the copy to the original is the spread of two identical
 * servers, which a kept optimisation must clearly beat.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { HuggingFaceTextTokenizer, readModelConfig } from '../src/runtime/index.js';
import { BENCH_MODEL_FOLDER, benchPrompts, ensureBenchModel } from './bench-model.js';
import { ask, firstAnswer, type ClientAnswer, type ServerAnswer, type ServerChildConfig } from './ipc.js';
import { median, round } from './stats.js';

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
      prompts: { type: 'string', default: '4' },
      'new-tokens': { type: 'string', default: '64' },
    },
  });
  const names = values.variants.split(',').map((name) => name.trim());
  for (const name of names) {
    if (VARIANTS[name] === undefined) throw new Error(`unknown variant ${name}; known: ${Object.keys(VARIANTS).join(', ')}`);
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
    for (const name of names) servers.push(await startServer({ modelDir: BENCH_MODEL_FOLDER, ...VARIANTS[name]!.config }, VARIANTS[name]!.env ?? {}));
    for (const server of servers) clients.push(await startClient(`127.0.0.1:${server.port}`));
    log('warming up ...');
    for (const client of clients) {
      await ask(client, { kind: 'one-by-one', mode: 'lockstep', prompts: prompts.slice(0, 1), newTokens: 8 });
      await ask(client, { kind: 'concurrent', prompts: all, newTokens: 8, staggerMs: 0 });
    }
    // msPerToken[figure][variant][rep]
    const msPerToken: Record<Figure, number[][]> = { auto: [], lockstep: [], concurrent: [] };
    for (const figure of FIGURES) msPerToken[figure] = names.map(() => []);
    for (let rep = 0; rep < reps; rep++) {
      log(`repetition ${rep + 1} of ${reps} ...`);
      const order = names.map((_, index) => (index + rep) % names.length);
      for (const index of order) {
        const client = clients[index]!;
        for (const mode of ['auto', 'lockstep'] as const) {
          const run = await ask<Extract<ClientAnswer, { kind: 'one-by-one' }>>(client, { kind: 'one-by-one', mode, prompts, newTokens });
          msPerToken[mode][index]!.push(sum(run.ms) / (prompts.length * newTokens));
        }
        const together = await ask<Extract<ClientAnswer, { kind: 'concurrent' }>>(client, { kind: 'concurrent', prompts: all, newTokens, staggerMs: 0 });
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
    `| variant | ${FIGURES.map((figure) => `${figure} ms/token | ÷ ${names[0]} (range)`).join(' | ')} |`,
    `| --- | ${FIGURES.map(() => '---: | ---:').join(' | ')} |`,
  ];
  names.forEach((name, index) => {
    const cells = FIGURES.map((figure) => {
      const own = msPerToken[figure][index]!;
      const ratios = own.map((ms, rep) => ms / msPerToken[figure][0]![rep]!);
      return `${round(median(own))} | ${round(median(ratios))} (${round(Math.min(...ratios))}–${round(Math.max(...ratios))})`;
    });
    lines.push(`| ${name} | ${cells.join(' | ')} |`);
  });
  process.stdout.write(`${lines.join('\n')}\n\n`);
  for (const name of new Set(names)) process.stdout.write(`- ${name}: ${VARIANTS[name]!.description}\n`);
  process.stdout.write(`${JSON.stringify({ names, msPerToken })}\n`);
}

function sum(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0);
}

async function startServer(config: ServerChildConfig, env: Readonly<Record<string, string>>): Promise<{ child: ChildProcess; port: number }> {
  // Switches read when the server's modules load; the environment is there before they do.
  const child = fork(fileURLToPath(new URL('./server-process.ts', import.meta.url)), [JSON.stringify(config)], {
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

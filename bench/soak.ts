/**
 * Soak: `stepwise serve` (a child process, as users run it) under N concurrent streams, opened again and
 * again for M minutes, half AUTO and half LOCKSTEP (each step accepted as soon as it arrives). Reports the
 * server's resident memory (RSS) and the client-side step time (from one step's logits to the next's)
 * over the first and the last window of the run (a sixth of it, at most a minute each), so that growth in
 * either shows.
 *
 * ```sh
 * npm run soak -- --minutes 1 --streams 8                       # the embedded tiny model
 * npm run soak -- --minutes 30 --streams 16 --model DIR --max-new-tokens 128
 * ```
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

import { StepwiseClient } from '../clients/ts/index.js';
import { startServeChild } from './serve-child.js';
import { percentile } from './stats.js';

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '1' },
    streams: { type: 'string', default: '8' },
    model: { type: 'string' },
    'max-new-tokens': { type: 'string', default: '64' },
  },
});
const minutes = Number(args.minutes);
const streams = Number(args.streams);
const maxNewTokens = Number(args['max-new-tokens']);
if (!(minutes > 0) || !Number.isInteger(streams) || streams < 1 || !Number.isInteger(maxNewTokens) || maxNewTokens < 1) {
  throw new Error('usage: npm run soak -- --minutes M (> 0) --streams N (≥ 1) [--model DIR] [--max-new-tokens T]');
}
const durationMs = minutes * 60_000;
const windowMs = Math.min(60_000, durationMs / 6);

const PROMPTS = [
  'translate English to German: The house is wonderful.',
  'summarize: The city council met on Tuesday to discuss the new budget for parks and schools.',
  'translate English to French: Our train was delayed by two hours because of the snow.',
  'question: Where is the base camp? context: The expedition set up its base camp at the foot of the glacier.',
];

interface Sample {
  readonly at: number;
  readonly value: number;
}

/** The resident set size of process `pid`, in MiB. */
function rssMiB(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
  } catch {
    return Number(execFileSync('ps', ['-o', 'rss=', '-p', String(pid)]).toString().trim()) / 1024;
  }
}

/** Runs streams one after another until `endAt`, recording each step's time; returns how many ran. */
async function worker(client: StepwiseClient, index: number, endAt: number, steps: Sample[], failures: string[]): Promise<number> {
  let count = 0;
  while (Date.now() < endAt) {
    const mode = (index + count) % 2 === 0 ? 'auto' : 'lockstep';
    const session = client.openDecode({ text: PROMPTS[(index + count) % PROMPTS.length], maxNewTokens, minNewTokens: maxNewTokens, mode });
    let last: number | undefined;
    try {
      for await (const event of session) {
        if (event.kind !== 'step') continue;
        const now = performance.now();
        if (last !== undefined) steps.push({ at: Date.now(), value: now - last });
        last = now;
        if (event.awaitsDecision) session.accept(event.step);
      }
    } catch (error) {
      failures.push(error instanceof Error ? error.message : String(error));
    }
    count += 1;
  }
  return count;
}

function windowStats(steps: readonly Sample[], rss: readonly Sample[], from: number, to: number): { p50: number; p99: number; rss: number; steps: number } {
  const inWindow = steps.filter((sample) => sample.at >= from && sample.at < to).map((sample) => sample.value);
  const memory = rss.filter((sample) => sample.at >= from && sample.at < to).map((sample) => sample.value);
  return { p50: percentile(inWindow, 50), p99: percentile(inWindow, 99), rss: Math.max(...memory), steps: inWindow.length };
}

const model = args.model === undefined ? [] : ['--model', args.model];
const server = await startServeChild(['--max-streams', String(streams), ...model]);
const idleRss = rssMiB(server.pid);
const clients = Array.from({ length: streams }, () => new StepwiseClient(server.address));
const steps: Sample[] = [];
const rss: Sample[] = [];
const failures: string[] = [];
const began = Date.now();
const endAt = began + durationMs;
const sampler = setInterval(() => rss.push({ at: Date.now(), value: rssMiB(server.pid) }), 1000);
process.stderr.write(`soak: ${streams} streams for ${minutes} min against ${server.address} (pid ${server.pid}), ${maxNewTokens} tokens each\n`);
const counts = await Promise.all(clients.map((client, index) => worker(client, index, endAt, steps, failures)));
clearInterval(sampler);
const ended = Date.now();
for (const client of clients) client.close();
server.child.kill('SIGTERM');
const exitCode = (await server.exited).code;

const first = windowStats(steps, rss, began, began + windowMs);
const last = windowStats(steps, rss, ended - windowMs, ended + 1);
const fmt = (value: number): string => value.toFixed(2);
console.log(`soak: ${minutes} min, ${streams} concurrent streams (half AUTO, half LOCKSTEP), ${maxNewTokens} tokens each`);
console.log(`streams run: ${counts.reduce((a, b) => a + b, 0)}; steps: ${steps.length}; failed streams: ${failures.length}`);
console.log(`server RSS idle before load: ${fmt(idleRss)} MiB`);
console.log(`window          steps   step p50 ms   step p99 ms   RSS MiB (max)`);
for (const [name, stats] of [[`first ${fmt(windowMs / 1000)} s`, first], [`last ${fmt(windowMs / 1000)} s`, last]] as const) {
  console.log(`${name.padEnd(14)} ${String(stats.steps).padStart(6)}   ${fmt(stats.p50).padStart(11)}   ${fmt(stats.p99).padStart(11)}   ${fmt(stats.rss).padStart(13)}`);
}
const tenths = Array.from({ length: 10 }, (_, i) => rss.filter((sample) => sample.at <= began + ((i + 1) * durationMs) / 10).at(-1)?.value ?? Number.NaN);
console.log(`server RSS MiB at each tenth of the run: ${tenths.map((value) => value.toFixed(0)).join(' ')}`);
console.log(`server exit code after SIGTERM: ${exitCode}`);
if (failures.length > 0) console.log(`first failure: ${failures[0]}`);

/**
 * `npm run bench:score -- [--reps N] [--targets N] [--target-tokens N] [--input-tokens N] [--model DIR]
 * [--flow-control-window BYTES] [--json]`: scoring
 * given targets with `Score` against the route that exists without it, forcing each target through a
 * LOCKSTEP `Decode` (`force_tokens` at step 0, every step's row and token read back), on the same input and
 * targets, in one run.
 *
 * The server is `stepwise serve` as composed for the benchmark (`server-process.ts`, in a child process, on
 * the t5-small-shaped benchmark model, or `--model DIR` as it is); the client runs here, on one channel
 * whose HTTP/2 window is 64 MiB (`--flow-control-window`), for both routes. The routes:
 * - with rows: every target token's float32 raw row comes back (Score `raw_logits: FLOAT32`; Decode's
 *   `StepLogits` as by default), 64 MiB for 16 targets of 32 tokens;
 * - statistics only: each token's raw log-probability (Score without rows; Decode with `raw_logits: NONE`).
 * The forced Decodes run concurrently, one stream per target, so the scheduler batches their steps as it
 * would for any client that opens them together; with rows, also one target after another (the recipe
 * "force it and read the steps", one reference at a time). Each route runs once to warm up, then `--reps` times,
 * alternating; the times are medians, the ratios medians of each repetition's ratio (routes paired in time).
 * The report also gives the server's decoder and encoder runs per call, and the largest difference between
 * the two routes' log-probabilities (two graph paths).
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { credentials, type ServiceError } from '@grpc/grpc-js';
import { DecodeRequest, type DecodeResponse, LogitsFormat, ScoreRequest, type ScoreResponse, StepwiseServiceClient } from '../src/gen/stepwise/v1/stepwise.js';
import { HuggingFaceTextTokenizer, readModelConfig } from '../src/runtime/index.js';
import { BENCH_MODEL_FOLDER, benchPrompts, ensureBenchModel } from './bench-model.js';
import { ask, firstAnswer, type ServerAnswer } from './ipc.js';
import { median, round } from './stats.js';

const log = (line: string) => process.stderr.write(`${line}\n`);

interface Measured {
  readonly ms: number;
  /** Each target's raw log-probabilities, in order. */
  readonly logprobs: number[][];
  /** Bytes of the responses received. */
  readonly bytes: number;
}

/** One `Score` call with every target. */
function scoreOnce(client: StepwiseServiceClient, input: number[], targets: number[][], rows: boolean): Promise<Measured> {
  const request = ScoreRequest.fromPartial({
    input: { $case: 'tokenIds', value: { ids: input } },
    targets: targets.map((ids) => ({ target: { $case: 'tokenIds', value: { ids } } })),
    rawLogits: rows ? LogitsFormat.LOGITS_FORMAT_FLOAT32 : LogitsFormat.LOGITS_FORMAT_NONE,
  });
  const begin = performance.now();
  return new Promise((resolve, reject) =>
    client.score(request, (error: ServiceError | null, response: ScoreResponse) => {
      if (error) return reject(error);
      const ms = performance.now() - begin;
      const bytes = response.results.reduce((sum, result) => sum + result.tokens.reduce((s, token) => s + (token.raw?.data.byteLength ?? 0), 0), 0);
      resolve({ ms, logprobs: response.results.map((result) => result.tokens.map((token) => token.logprob)), bytes });
    }),
  );
}

/**
 * One LOCKSTEP Decode per target, each forcing its target at step 0 and read to `Finished`: all at once
 * (`together`), or one after another.
 */
async function forcedDecodes(client: StepwiseServiceClient, input: number[], targets: number[][], rows: boolean, together: boolean): Promise<Measured> {
  const begin = performance.now();
  const streams: Array<{ logprobs: number[]; bytes: number }> = [];
  if (together) streams.push(...(await Promise.all(targets.map((target) => forcedDecode(client, input, target, rows)))));
  else for (const target of targets) streams.push(await forcedDecode(client, input, target, rows));
  return { ms: performance.now() - begin, logprobs: streams.map((stream) => stream.logprobs), bytes: streams.reduce((sum, stream) => sum + stream.bytes, 0) };
}

function forcedDecode(client: StepwiseServiceClient, input: number[], target: number[], rows: boolean): Promise<{ logprobs: number[]; bytes: number }> {
  return new Promise((resolve, reject) => {
    const call = client.decode();
    const logprobs: number[] = [];
    let bytes = 0;
    call.on('data', (response: DecodeResponse) => {
      const message = response.message;
      if (message?.$case === 'logits') {
        bytes += message.value.raw?.data.byteLength ?? 0;
        if (message.value.step === 0) call.write(DecodeRequest.fromPartial({ message: { $case: 'decision', value: { step: 0, action: { $case: 'forceTokens', value: { tokenIds: target } } } } }));
      } else if (message?.$case === 'token') {
        logprobs.push(message.value.rawLogprob);
      } else if (message?.$case === 'finished') {
        call.end();
      }
    });
    call.on('error', reject);
    call.on('end', () => resolve({ logprobs, bytes }));
    call.write(
      DecodeRequest.fromPartial({
        message: {
          $case: 'start',
          value: {
            input: { $case: 'tokenIds', value: { ids: input } },
            maxNewTokens: target.length,
            stream: { rawLogits: rows ? LogitsFormat.LOGITS_FORMAT_FLOAT32 : LogitsFormat.LOGITS_FORMAT_NONE },
          },
        },
      }),
    );
  });
}

function largestDifference(a: number[][], b: number[][]): number {
  let largest = 0;
  a.forEach((row, i) => row.forEach((value, j) => (largest = Math.max(largest, Math.abs(value - b[i]![j]!)))));
  return largest;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      reps: { type: 'string', default: '5' },
      targets: { type: 'string', default: '16' },
      'target-tokens': { type: 'string', default: '32' },
      'input-tokens': { type: 'string', default: '32' },
      model: { type: 'string' },
      'flow-control-window': { type: 'string', default: String(64 * 1024 * 1024) },
      json: { type: 'boolean', default: false },
    },
  });
  const reps = Number(values.reps);
  const modelDir = values.model ?? BENCH_MODEL_FOLDER;
  if (values.model === undefined) await ensureBenchModel();
  const tokenizer = await HuggingFaceTextTokenizer.load(modelDir);
  const { eosTokenId } = (await readModelConfig(modelDir)).config;
  const [input] = benchPrompts((text) => tokenizer.encode(text), eosTokenId, 1, Number(values['input-tokens']));
  // Real sentences as targets, each `target-tokens` long and ending with EOS, as a text target would.
  const targets = benchPrompts((text) => tokenizer.encode(text), eosTokenId, Number(values.targets), Number(values['target-tokens']));

  const child = fork(fileURLToPath(new URL('./server-process.ts', import.meta.url)), [JSON.stringify({ modelDir })], { execArgv: [...process.execArgv, '--expose-gc'] });
  const ready = await firstAnswer<ServerAnswer>(child);
  if (ready.kind !== 'ready') throw new Error(`the server child answered ${ready.kind}`);
  // A client that asks for 64 MiB of rows in one response takes it in one message and one HTTP/2 window;
  // `--flow-control-window 0` keeps grpc-js's 64 KiB windows (one round trip per 64 KiB).
  const window = Number(values['flow-control-window']);
  const client = new StepwiseServiceClient(`127.0.0.1:${ready.port}`, credentials.createInsecure(), {
    'grpc.max_receive_message_length': -1,
    ...(window > 0 ? { 'grpc-node.flow_control_window': window } : {}),
  });
  const routes = {
    'Score, with rows': () => scoreOnce(client, input!, targets, true),
    'forced Decode, with rows': () => forcedDecodes(client, input!, targets, true, true),
    'forced Decode one target after another, with rows': () => forcedDecodes(client, input!, targets, true, false),
    'Score, statistics only': () => scoreOnce(client, input!, targets, false),
    'forced Decode, statistics only': () => forcedDecodes(client, input!, targets, false, true),
  } as const;
  type Route = keyof typeof routes;
  const times = new Map<Route, number[]>();
  const runs = new Map<Route, string>();
  const busy = new Map<Route, number[]>();
  const cpu = new Map<Route, number[]>();
  const results = new Map<Route, Measured>();
  try {
    for (let rep = 0; rep <= reps; rep++) {
      const order = (Object.keys(routes) as Route[]).slice();
      if (rep % 2 === 1) order.reverse();
      for (const route of order) {
        await ask(child, { kind: 'probe-start', loopDelay: false });
        const measured = await routes[route]();
        const probe = await ask<Extract<ServerAnswer, { kind: 'probe' }>>(child, { kind: 'probe-read' });
        if (rep === 0) continue; // warm-up
        (times.get(route) ?? times.set(route, []).get(route)!).push(measured.ms);
        results.set(route, measured);
        const s = probe.scheduler;
        runs.set(route, `${s.encodeRuns} encoder, ${s.stepRuns} step, ${s.scoreRuns} scoring`);
        (busy.get(route) ?? busy.set(route, []).get(route)!).push(s.busyMs);
        (cpu.get(route) ?? cpu.set(route, []).get(route)!).push(probe.servingThreadCpuMs);
        log(`rep ${rep}: ${route}: ${measured.ms.toFixed(1)} ms (${runs.get(route)} runs; model busy ${s.busyMs.toFixed(0)} ms, serving thread ${probe.servingThreadCpuMs.toFixed(0)} ms CPU)`);
      }
    }
  } finally {
    client.close();
    await ask(child, { kind: 'stop' }).catch(() => child.kill());
  }
  const med = (route: Route) => median(times.get(route)!);
  const tokens = targets.reduce((sum, target) => sum + target.length, 0);
  // Each repetition runs every route back to back, so a ratio within one repetition compares routes under
  // the same load; the median of those paired ratios holds when the load of a shared machine drifts.
  const pairedRatio = (slower: Route, faster: Route) => median(times.get(slower)!.map((ms, rep) => ms / times.get(faster)![rep]!));
  const ratios = {
    concurrentWithRows: pairedRatio('forced Decode, with rows', 'Score, with rows'),
    oneAfterAnotherWithRows: pairedRatio('forced Decode one target after another, with rows', 'Score, with rows'),
    concurrentStatisticsOnly: pairedRatio('forced Decode, statistics only', 'Score, statistics only'),
  };
  const lines = [
    `${targets.length} targets of ${targets[0]!.length} tokens after an input of ${input!.length} tokens; medians of ${reps} runs`,
    '',
    '| route | wall ms | per target token, ms | model busy ms | serving thread CPU ms | server runs per call | row bytes received |',
    '| --- | ---: | ---: | ---: | ---: | --- | ---: |',
    ...(Object.keys(routes) as Route[]).map(
      (route) =>
        `| ${route} | ${med(route).toFixed(1)} | ${(med(route) / tokens).toFixed(3)} | ${median(busy.get(route)!).toFixed(0)} | ` +
        `${median(cpu.get(route)!).toFixed(0)} | ${runs.get(route)} | ${results.get(route)!.bytes} |`,
    ),
    '',
    `forced Decode (${targets.length} streams at once) ÷ Score, with rows: ${ratios.concurrentWithRows.toFixed(2)}× (median of the repetitions' ratios; goal ≥ 5×)`,
    `forced Decode (one after another) ÷ Score, with rows: ${ratios.oneAfterAnotherWithRows.toFixed(2)}× (median of the repetitions' ratios; goal ≥ 5×)`,
    `forced Decode (${targets.length} streams at once) ÷ Score, statistics only: ${ratios.concurrentStatisticsOnly.toFixed(2)}× (median of the repetitions' ratios)`,
    `largest |Score logprob − forced Decode raw_logprob|: ${largestDifference(results.get('Score, with rows')!.logprobs, results.get('forced Decode, with rows')!.logprobs).toExponential(2)}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  if (values.json) {
    const summary = Object.fromEntries((Object.keys(routes) as Route[]).map((route) => [route, round(med(route), 1)]));
    process.stdout.write(`${JSON.stringify({ targets: targets.length, targetTokens: targets[0]!.length, reps, medianMs: summary, ratios: Object.fromEntries(Object.entries(ratios).map(([name, ratio]) => [name, round(ratio, 2)])) })}\n`);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`score-bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});

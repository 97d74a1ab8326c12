/**
 * `npm run bench [-- --json] [--reps N]`: how fast Stepwise decodes, as ratios to baselines measured in
 * the same run, on the same inputs (a t5-small-shaped model; prompts of 32 tokens; 64 new tokens, greedy,
 * every sequence forced to full length):
 *
 * - the floor: a bare ONNX Runtime loop (`floor-loop.ts`) on a thread of its own (`contender-thread.ts`),
 *   one prompt at a time and as one static batch of all prompts;
 * - transformers.js `generate()` on the same folder, one prompt at a time, on a thread of its own;
 * - Stepwise over gRPC on 127.0.0.1 (server and client each in their own process): AUTO and LOCKSTEP one
 *   prompt at a time, then all prompts as concurrent AUTO streams, started together and staggered;
 * - the share of steps that ran batched; inside the server, in a third run of the streams started
 *   together, event-loop delay and health-check latency (kept out of the throughput runs: probing is load
 *   of its own); and its memory per live stream;
 * - where the time outside ONNX Runtime goes: AUTO and LOCKSTEP one at a time and 16 together again with
 *   no logits on the wire (format NONE), the CPU time of the server's serving thread and of the client process in every
 *   gRPC run, and round trips of one row over a bare grpc-js stream (`bare-rows.ts`): the transport alone.
 *
 * Every repetition measures every contender in turn (so that a slow moment of the machine hits all of
 * them), and the report gives the median of each figure and of each per-repetition ratio.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';

import type { InferenceSession } from 'onnxruntime-node';

import { HuggingFaceTextTokenizer, readModelConfig, spinningSessionEntries } from '../src/runtime/index.js';
import { parseBenchOptions, type BenchOptions } from './bench-options.js';
import { BENCH_MODEL_FOLDER, benchPrompts, ensureBenchModel } from './bench-model.js';
import { ContenderThread } from './contender-thread.js';
import { processCpuMs } from './cpu-time.js';
import { HealthProbe } from './health-probe.js';
import { ask, firstAnswer, type ClientAnswer, type RawLogits, type ServerAnswer, type ServerChildConfig } from './ipc.js';
import { printReport, type BenchResults, type Repetition } from './report.js';
import { RuntimeRunner } from './runtime-runner.js';

const log = (line: string) => process.stderr.write(`${line}\n`);

async function main(): Promise<void> {
  const options = parseBenchOptions(process.argv.slice(2));
  const loadBefore = loadavg()[0]!;
  log(`building or reusing the t5-small-shaped model in ${BENCH_MODEL_FOLDER} ...`);
  const { options: buildOptions, built } = await ensureBenchModel();
  log(built ? 'built it' : 'reused it');
  const { config } = await readModelConfig(BENCH_MODEL_FOLDER);
  const tokenizer = await HuggingFaceTextTokenizer.load(BENCH_MODEL_FOLDER);
  const prompts = benchPrompts((text) => tokenizer.encode(text), config.eosTokenId, options.prompts, options.promptTokens);

  const sessionOptions: InferenceSession.SessionOptions = {
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    ...(options.intraOpNumThreads === undefined ? {} : { intraOpNumThreads: options.intraOpNumThreads }),
    // The same spinning as the server's: stopping it between runs shortens the bare loop's steps too.
    extra: { session: spinningSessionEntries(options.spinning) },
  };
  const floor = await ContenderThread.open({ kind: 'floor', dir: BENCH_MODEL_FOLDER, sessionOptions });
  const tjs = await ContenderThread.open({ kind: 'transformers-js', dir: BENCH_MODEL_FOLDER, sessionOptions });
  const serverLoad = {
    ...(options.intraOpNumThreads === undefined ? {} : { intraOpNumThreads: options.intraOpNumThreads }),
    intraOpSpinning: options.spinning,
    ...(options.serverArena === undefined ? {} : { enableCpuMemArena: options.serverArena }),
  };
  const runtime = await RuntimeRunner.open(BENCH_MODEL_FOLDER, serverLoad);
  const profiling = profilingArgs(options.cpuProfileDir);
  const server = await startServer(
    {
      modelDir: BENCH_MODEL_FOLDER,
      ...serverLoad,
      maxWaitMs: options.maxWaitMs,
      ...(options.runAhead !== undefined && { runAhead: options.runAhead }),
      ...(options.modelThreadNice !== undefined && { threadNice: options.modelThreadNice }),
    },
    profiling,
  );
  const address = `127.0.0.1:${server.port}`;
  const client = await startClient(address, profiling);
  const health = new HealthProbe(address);
  try {
    await health.check(); // connects: the first call's handshake is not the server's latency
    log('warming up every contender ...');
    await floor.generate(prompts.slice(0, 1), 8);
    await floor.generate(prompts, 8);
    await tjs.generate([prompts[0]!], 8);
    await runtime.generate(prompts.slice(0, 1), 8);
    await runtime.generate(prompts, 8);
    await ask(client.child, { kind: 'one-by-one', mode: 'auto', prompts: prompts.slice(0, 1), newTokens: 8 });
    await ask(client.child, { kind: 'concurrent', prompts, newTokens: 8, staggerMs: 0 });

    const repetitions: Repetition[] = [];
    const rowBytes = config.vocabSize * Float32Array.BYTES_PER_ELEMENT;
    for (let rep = 1; rep <= options.reps; rep++) {
      log(`repetition ${rep} of ${options.reps} ...`);
      repetitions.push(
        await measureRepetition(options, prompts, { floor, tjs, runtime, health }, { ...server, rowBytes }, client.child),
      );
    }
    log('measuring memory per live stream ...');
    const memory = await measureMemory(options, prompts, server.child, client.child);
    const results: BenchResults = {
      options,
      model: { folder: BENCH_MODEL_FOLDER, tokenizer: buildOptions.tokenizerPath ?? 'built-in', config },
      machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, loadBefore, loadAfter: loadavg()[0]!, node: process.version },
      repetitions,
      memory,
    };
    printReport(results);
  } finally {
    health.close();
    await ask(client.child, { kind: 'stop' }).catch(() => client.child.kill());
    await ask(server.child, { kind: 'stop' }).catch(() => server.child.kill());
    await Promise.all([floor.release(), tjs.release(), runtime.dispose()]);
  }
}

async function measureRepetition(
  options: BenchOptions,
  prompts: number[][],
  local: { floor: ContenderThread; tjs: ContenderThread; runtime: RuntimeRunner; health: HealthProbe },
  stepwise: { child: ChildProcess; barePort: number; rowBytes: number },
  client: ChildProcess,
): Promise<Repetition> {
  const { newTokens } = options;
  const server = stepwise.child;
  // One prompt at a time, every contender on the same prompt back to back: a slow moment of the machine
  // then hits the contenders it is compared with, not just one of them.
  const one: Repetition['one'] = { floor: [], tjs: [], runtime: [], auto: [], autoNone: [], lockstep: [], lockstepNone: [] };
  const tokens: Repetition['tokens'] = { floor: [], tjs: [], runtime: [], auto: [], autoNone: [], lockstep: [], lockstepNone: [] };
  const cpu: Record<keyof Repetition['cpu'], { servingThreadMs: number; clientMs: number }> = {
    auto: { servingThreadMs: 0, clientMs: 0 },
    autoNone: { servingThreadMs: 0, clientMs: 0 },
    lockstep: { servingThreadMs: 0, clientMs: 0 },
    lockstepNone: { servingThreadMs: 0, clientMs: 0 },
  };
  const overGrpc = async (name: keyof Repetition['cpu'], mode: 'auto' | 'lockstep', logits: RawLogits, prompt: number[]) => {
    await ask(server, { kind: 'probe-start', loopDelay: false });
    const run = await ask<Extract<ClientAnswer, { kind: 'one-by-one' }>>(client, { kind: 'one-by-one', mode, prompts: [prompt], newTokens, logits });
    const probe = await ask<Extract<ServerAnswer, { kind: 'probe' }>>(server, { kind: 'probe-read' });
    cpu[name].servingThreadMs += probe.servingThreadCpuMs;
    cpu[name].clientMs += run.cpuMs;
    return { ms: run.ms[0]!, tokens: run.tokens };
  };
  let floorCpuMs = 0;
  for (const prompt of prompts) {
    const runs: Record<keyof Repetition['one'], () => Promise<{ ms: number; tokens: number[][] }>> = {
      floor: async () => {
        const cpuBefore = processCpuMs();
        const result = await local.floor.generate([prompt], newTokens);
        // This process is otherwise idle while its floor thread decodes: its CPU time is the floor's.
        floorCpuMs += processCpuMs() - cpuBefore;
        return result;
      },
      tjs: () => local.tjs.generate([prompt], newTokens),
      runtime: () => local.runtime.generate([prompt], newTokens),
      auto: () => overGrpc('auto', 'auto', 'float32', prompt),
      autoNone: () => overGrpc('autoNone', 'auto', 'none', prompt),
      lockstep: () => overGrpc('lockstep', 'lockstep', 'float32', prompt),
      lockstepNone: () => overGrpc('lockstepNone', 'lockstep', 'none', prompt),
    };
    for (const [name, run] of Object.entries(runs) as [keyof Repetition['one'], () => Promise<{ ms: number; tokens: number[][] }>][]) {
      const result = await run();
      one[name].push(result.ms);
      tokens[name]!.push(result.tokens[0]!);
    }
  }
  const floorBatch = await local.floor.generate(prompts, newTokens);
  const statsBefore = local.runtime.stats;
  const runtimeAll = await local.runtime.generate(prompts, newTokens);
  const statsAfter = local.runtime.stats;
  const together = await concurrent(server, client, undefined, prompts, newTokens, 0);
  const togetherNone = await concurrent(server, client, undefined, prompts, newTokens, 0, 'none');
  const staggered = await concurrent(server, client, undefined, prompts, newTokens, options.staggerMs);
  const probed = await concurrent(server, client, local.health, prompts, newTokens, 0);
  const bare = await measureBareRoundTrips(stepwise, client, prompts.length * newTokens);
  return {
    one,
    cpu,
    floorCpuMs,
    bare,
    floorBatchMs: floorBatch.ms,
    runtimeAllMs: runtimeAll.ms,
    runtimeAllRuns: statsAfter.stepRuns - statsBefore.stepRuns,
    together,
    togetherNone,
    staggered,
    probed,
    tokens: {
      ...tokens,
      floorBatch: floorBatch.tokens,
      runtimeAll: runtimeAll.tokens,
      together: together.tokens,
      togetherNone: togetherNone.tokens,
      staggered: staggered.tokens,
      probed: probed.tokens,
    },
  };
}

/**
 * Concurrent AUTO streams, with the server's scheduler runs counted over the same window. With `health`,
 * the latency run: the server's event loop is monitored and its health checked every 20 ms meanwhile.
 * Throughput is measured without them: fifty health checks a second and a 1 ms event-loop timer are load of
 * their own, which the static batch it is compared with does not carry. The report shows both runs' rates.
 */
async function concurrent(
  server: ChildProcess,
  client: ChildProcess,
  health: HealthProbe | undefined,
  prompts: number[][],
  newTokens: number,
  staggerMs: number,
  logits: RawLogits = 'float32',
) {
  await ask(server, { kind: 'probe-start', loopDelay: health !== undefined });
  const running = ask<Extract<ClientAnswer, { kind: 'concurrent' }>>(client, { kind: 'concurrent', prompts, newTokens, staggerMs, logits });
  const [run, healthMs] = await Promise.all([running, health?.pollWhile(running, 20) ?? []]);
  const probe = await ask<Extract<ServerAnswer, { kind: 'probe' }>>(server, { kind: 'probe-read' });
  return { wallMs: run.wallMs, tokens: run.tokens, healthMs, probe, clientCpuMs: run.cpuMs };
}

/**
 * `count` round trips of one logits row over the bare grpc-js stream (`bare-rows.ts`), one after another as
 * LOCKSTEP's steps are, with the server child's CPU time counted over the same window.
 */
async function measureBareRoundTrips(stepwise: { child: ChildProcess; barePort: number; rowBytes: number }, client: ChildProcess, count: number) {
  await ask(stepwise.child, { kind: 'probe-start', loopDelay: false });
  const run = await ask<Extract<ClientAnswer, { kind: 'bare-round-trips' }>>(client, {
    kind: 'bare-round-trips',
    port: stepwise.barePort,
    count,
    rowBytes: stepwise.rowBytes,
  });
  const probe = await ask<Extract<ServerAnswer, { kind: 'probe' }>>(stepwise.child, { kind: 'probe-read' });
  return { count, rowBytes: stepwise.rowBytes, wallMs: run.wallMs, clientCpuMs: run.clientCpuMs, servingThreadCpuMs: probe.servingThreadCpuMs };
}

/**
 * What a live stream costs: server RSS and live buffers (after a full GC of both threads) idle, with
 * every prompt's stream held at its last step (all KV caches full), then with as many more held beside
 * them — twice as many streams as the server ever held at once — and after they all ended.
 *
 * One such cycle runs first, unmeasured but for its RSS: it grows what a process grows once and keeps
 * (ONNX Runtime's memory arena for the largest batch, the allocator's free lists), which is not what each
 * further stream costs. The report gives that one-time growth on its own line.
 */
async function measureMemory(options: BenchOptions, prompts: number[][], server: ChildProcess, client: ChildProcess) {
  type Memory = Extract<ServerAnswer, { kind: 'memory' }>;
  const cold = await ask<Memory>(server, { kind: 'memory' });
  await ask(client, { kind: 'hold', prompts, newTokens: options.newTokens });
  await ask(client, { kind: 'hold', prompts, newTokens: options.newTokens });
  await ask(client, { kind: 'release' });
  const idle = await ask<Memory>(server, { kind: 'memory' });
  await ask(client, { kind: 'hold', prompts, newTokens: options.newTokens });
  const held = await ask<Memory>(server, { kind: 'memory' });
  await ask(client, { kind: 'hold', prompts, newTokens: options.newTokens });
  const heldTwice = await ask<Memory>(server, { kind: 'memory' });
  await ask(client, { kind: 'release' });
  const released = await ask<Memory>(server, { kind: 'memory' });
  return {
    coldRss: cold.rssBytes,
    idleRss: idle.rssBytes,
    heldRss: held.rssBytes,
    heldTwiceRss: heldTwice.rssBytes,
    idleBuffers: idle.arrayBuffers,
    heldBuffers: held.arrayBuffers,
    heldTwiceBuffers: heldTwice.arrayBuffers,
    heldTwiceStates: heldTwice.liveStates,
    releasedRss: released.rssBytes,
    releasedStates: released.liveStates,
  };
}

/** Node flags that make a child write its V8 CPU profile (main thread and workers) into `dir` on exit. */
function profilingArgs(dir: string | undefined): string[] {
  return dir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${dir}`];
}

async function startServer(config: ServerChildConfig, extraArgs: string[]): Promise<{ child: ChildProcess; port: number; barePort: number }> {
  const child = fork(fileURLToPath(new URL('./server-process.ts', import.meta.url)), [JSON.stringify(config)], {
    execArgv: [...process.execArgv, '--expose-gc', ...extraArgs],
  });
  const ready = await firstAnswer<ServerAnswer>(child);
  if (ready.kind !== 'ready') throw new Error(`the server child answered ${ready.kind} instead of ready`);
  return { child, port: ready.port, barePort: ready.barePort };
}

async function startClient(address: string, extraArgs: string[]): Promise<{ child: ChildProcess }> {
  const child = fork(fileURLToPath(new URL('./client-process.ts', import.meta.url)), [address], {
    execArgv: [...process.execArgv, ...extraArgs],
  });
  await firstAnswer<ClientAnswer>(child);
  return { child };
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});

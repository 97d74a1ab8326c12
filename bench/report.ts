/**
 * Turns the benchmark's repetitions into the printed table, the targets with their verdicts, and (with
 * `--json`) one JSON object on the last line of stdout. Every figure is a median over repetitions; every
 * ratio is the median of the per-repetition ratios (both sides measured in the same repetition).
 */
import type { T5Config } from '../src/runtime/index.js';
import type { BenchOptions } from './bench-options.js';
import type { ServerAnswer } from './ipc.js';
import { median, percentile, round } from './stats.js';

export interface ConcurrentRun {
  readonly wallMs: number;
  readonly tokens: number[][];
  readonly healthMs: number[];
  readonly probe: Extract<ServerAnswer, { kind: 'probe' }>;
  /** The client process's CPU time over the run. */
  readonly clientCpuMs: number;
}

/** CPU time outside ONNX Runtime over one contender's one-at-a-time runs (all prompts of a repetition). */
export interface CpuOutsideModel {
  /** The server's serving (main) thread: gRPC, processors, selection, messages. */
  readonly servingThreadMs: number;
  /** The client process, every thread. */
  readonly clientMs: number;
}

export interface Repetition {
  /**
   * Wall time per prompt of each one-at-a-time contender, in prompt order; `runtime` is the runtime
   * (worker thread + scheduler) without the server.
   */
  readonly one: {
    floor: number[];
    tjs: number[];
    runtime: number[];
    auto: number[];
    autoNone: number[];
    lockstep: number[];
    lockstepNone: number[];
  };
  /** The gRPC contenders' CPU time outside the model, summed over their one-at-a-time runs. */
  readonly cpu: { auto: CpuOutsideModel; autoNone: CpuOutsideModel; lockstep: CpuOutsideModel; lockstepNone: CpuOutsideModel };
  /** CPU time (every thread) of the floor's one-at-a-time runs, summed. */
  readonly floorCpuMs: number;
  /** Round trips of one row over a bare grpc-js stream, one after another (`bare-rows.ts`). */
  readonly bare: {
    readonly count: number;
    readonly rowBytes: number;
    readonly wallMs: number;
    readonly clientCpuMs: number;
    readonly servingThreadCpuMs: number;
  };
  /** The floor over all prompts as one static batch. */
  readonly floorBatchMs: number;
  /** The runtime without the server, all prompts at once, and the decoder runs that took. */
  readonly runtimeAllMs: number;
  readonly runtimeAllRuns: number;
  /** All prompts as concurrent streams started together; then 50 ms apart (throughput, no latency probes). */
  readonly together: ConcurrentRun;
  /** Started together, with no logits on the wire (format NONE). */
  readonly togetherNone: ConcurrentRun;
  readonly staggered: ConcurrentRun;
  /** Started together again, with the event loop monitored and health checked every 20 ms. */
  readonly probed: ConcurrentRun;
  /** Generated ids per contender, to check that all did the same work. */
  readonly tokens: Record<string, number[][]>;
}

export interface BenchResults {
  readonly options: BenchOptions;
  readonly model: { readonly folder: string; readonly tokenizer: string; readonly config: T5Config };
  readonly machine: { readonly cpu: string; readonly cores: number; readonly loadBefore: number; readonly loadAfter: number; readonly node: string };
  readonly repetitions: readonly Repetition[];
  readonly memory: {
    /** Before any stream was held. */
    readonly coldRss: number;
    /** After one cycle of holding and releasing as many streams as measured (one-time growth done). */
    readonly idleRss: number;
    /** With one stream per prompt held at its last step. */
    readonly heldRss: number;
    /** With two streams per prompt held. */
    readonly heldTwiceRss: number;
    /** Bytes of buffers alive on both server threads: idle, with one and with two streams per prompt held. */
    readonly idleBuffers: number;
    readonly heldBuffers: number;
    readonly heldTwiceBuffers: number;
    readonly heldTwiceStates: number;
    readonly releasedRss: number;
    readonly releasedStates: number;
  };
}

const MIB = 1024 * 1024;

export function printReport(results: BenchResults): void {
  const { options, repetitions: reps, model, machine, memory } = results;
  const tokens = options.prompts * options.newTokens;
  const med = (pick: (rep: Repetition) => number) => median(reps.map(pick));
  const perSecond = (ms: number) => (tokens * 1000) / ms;
  type One = keyof Repetition['one'];
  /** Median over every prompt of every repetition: ms per token of one contender. */
  const msPerToken = (name: One) => median(reps.flatMap((r) => r.one[name].map((ms) => ms / options.newTokens)));
  /** Median over every prompt of every repetition of `name`'s time over `base`'s on the same prompt. */
  const oneRatio = (name: One, base: One) => median(reps.flatMap((r) => r.one[name].map((ms, i) => ms / r.one[base][i]!)));
  /** A contender's total over all prompts, one after another, in one repetition. */
  const total = (r: Repetition, name: One) => r.one[name].reduce((sum, ms) => sum + ms, 0);

  const floorMs = msPerToken('floor');
  const tjsMs = msPerToken('tjs');
  const autoMs = msPerToken('auto');
  const autoNoneMs = msPerToken('autoNone');
  const lockstepNoneMs = msPerToken('lockstepNone');
  const lockstepMs = msPerToken('lockstep');
  const runtimeMs = msPerToken('runtime');
  const batchTps = med((r) => perSecond(r.floorBatchMs));
  const togetherTps = med((r) => perSecond(r.together.wallMs));
  const staggeredTps = med((r) => perSecond(r.staggered.wallMs));
  const probedTps = med((r) => perSecond(r.probed.wallMs));
  const ratio = {
    autoOverFloor: oneRatio('auto', 'floor'),
    autoNoneOverFloor: oneRatio('autoNone', 'floor'),
    lockstepOverFloor: oneRatio('lockstep', 'floor'),
    lockstepNoneOverFloor: oneRatio('lockstepNone', 'floor'),
    tjsOverFloor: oneRatio('tjs', 'floor'),
    tjsOverAuto: oneRatio('tjs', 'auto'),
    tjsOverLockstep: oneRatio('tjs', 'lockstep'),
    tjsOverRuntime: oneRatio('tjs', 'runtime'),
    runtimeOverFloor: oneRatio('runtime', 'floor'),
    runtimeAllOverBatch: med((r) => r.floorBatchMs / r.runtimeAllMs),
    batchOverOne: med((r) => total(r, 'floor') / r.floorBatchMs),
    togetherOverBatch: med((r) => r.floorBatchMs / r.together.wallMs),
    togetherNoneOverBatch: med((r) => r.floorBatchMs / r.togetherNone.wallMs),
    togetherOverTjsSequential: med((r) => total(r, 'tjs') / r.together.wallMs),
    staggeredOverSingle: med((r) => total(r, 'auto') / r.staggered.wallMs),
  };
  const share = (run: (r: Repetition) => ConcurrentRun) =>
    med((r) => {
      const stats = run(r).probe.scheduler;
      return stats.steps === 0 ? 0 : stats.batchedSteps / stats.steps;
    });
  const meanBatch = (run: (r: Repetition) => ConcurrentRun) =>
    med((r) => {
      const stats = run(r).probe.scheduler;
      return stats.stepRuns === 0 ? 0 : stats.steps / stats.stepRuns;
    });
  const eventLoopP99 = med((r) => r.probed.probe.eventLoopP99Ms);
  const eventLoopWorst = Math.max(...reps.map((r) => r.probed.probe.eventLoopP99Ms));
  const healthAll = reps.flatMap((r) => r.probed.healthMs);
  const healthMax = Math.max(...healthAll);
  const { config } = model;
  const kvBytes =
    config.numDecoderLayers * 2 * config.numHeads * config.dKv * 4 * (options.newTokens + options.promptTokens);
  /** Milliseconds of CPU per generated token, median over repetitions. */
  const cpuPerToken = (pick: (rep: Repetition) => number) => med((r) => pick(r) / tokens);
  const oneCpu = (name: keyof Repetition['cpu']) => ({
    serving: cpuPerToken((r) => r.cpu[name].servingThreadMs),
    client: cpuPerToken((r) => r.cpu[name].clientMs),
  });
  const concurrentCpu = (run: (rep: Repetition) => ConcurrentRun) => ({
    serving: cpuPerToken((r) => run(r).probe.servingThreadCpuMs),
    client: cpuPerToken((r) => run(r).clientCpuMs),
  });
  const cpu = {
    floor: cpuPerToken((r) => r.floorCpuMs),
    auto: oneCpu('auto'),
    autoNone: oneCpu('autoNone'),
    lockstep: oneCpu('lockstep'),
    lockstepNone: oneCpu('lockstepNone'),
    together: concurrentCpu((r) => r.together),
    togetherNone: concurrentCpu((r) => r.togetherNone),
    bare: {
      serving: med((r) => r.bare.servingThreadCpuMs / r.bare.count),
      client: med((r) => r.bare.clientCpuMs / r.bare.count),
      wall: med((r) => r.bare.wallMs / r.bare.count),
    },
  };
  const rssPerStream = (memory.heldTwiceRss - memory.idleRss) / (2 * options.prompts);
  const buffersPerStream = (memory.heldTwiceBuffers - memory.idleBuffers) / (2 * options.prompts);

  const lines: string[] = [];
  const add = (line = '') => lines.push(line);
  add(`Stepwise benchmark — t5-small shape (d_model ${config.dModel}, ${config.numLayers}+${config.numDecoderLayers} layers, ${config.numHeads} heads, vocab ${config.vocabSize}; tokenizer: ${model.tokenizer})`);
  add(`${options.prompts} prompts × ${options.promptTokens} tokens → ${options.newTokens} new tokens each, greedy, full length; ${reps.length} repetitions`);
  add('one prompt at a time: medians over every prompt of every repetition, ratios taken prompt by prompt; many requests: medians of per-repetition ratios');
  add(`machine: ${machine.cpu}, ${machine.cores} cores, node ${machine.node}; load average ${machine.loadBefore.toFixed(2)} before, ${machine.loadAfter.toFixed(2)} after`);
  add(`ONNX Runtime intra-op threads: ${options.intraOpNumThreads ?? 'default'} (every contender), intra-op spinning ${options.spinning} (every contender); server: CPU memory arena ${onOff(options.serverArena)}, run-ahead ${onOff(options.runAhead)}, model-thread nice ${options.modelThreadNice ?? 'default'}, scheduler maxWaitMs ${options.maxWaitMs ?? 'default'}`);
  add();
  add(row(['one prompt at a time', 'ms/token', 'tokens/s', '× floor', 'tjs ÷ it']));
  add(row(['floor: bare ONNX Runtime loop', fixed(floorMs), fixed(1000 / floorMs, 1), '1.000', fixed(ratio.tjsOverFloor)]));
  add(row(['transformers.js generate()', fixed(tjsMs), fixed(1000 / tjsMs, 1), fixed(ratio.tjsOverFloor), '1.000']));
  add(row(['Stepwise runtime alone (thread + scheduler)', fixed(runtimeMs), fixed(1000 / runtimeMs, 1), fixed(ratio.runtimeOverFloor), fixed(ratio.tjsOverRuntime)]));
  add(row(['Stepwise AUTO, gRPC 127.0.0.1', fixed(autoMs), fixed(1000 / autoMs, 1), fixed(ratio.autoOverFloor), fixed(ratio.tjsOverAuto)]));
  add(row(['Stepwise LOCKSTEP, gRPC 127.0.0.1', fixed(lockstepMs), fixed(1000 / lockstepMs, 1), fixed(ratio.lockstepOverFloor), fixed(ratio.tjsOverLockstep)]));
  add(row(['Stepwise AUTO, no logits (format NONE)', fixed(autoNoneMs), fixed(1000 / autoNoneMs, 1), fixed(ratio.autoNoneOverFloor), fixed(oneRatio('tjs', 'autoNone'))]));
  add(row(['Stepwise LOCKSTEP, no logits (format NONE)', fixed(lockstepNoneMs), fixed(1000 / lockstepNoneMs, 1), fixed(ratio.lockstepNoneOverFloor), fixed(oneRatio('tjs', 'lockstepNone'))]));
  add();
  add(row([`${options.prompts} requests`, 'tokens/s', '÷ batch floor', '÷ tjs 1-by-1', 'batched']));
  add(row([`floor: static batch of ${options.prompts}`, fixed(batchTps, 1), '1.000', fixed(med((r) => total(r, 'tjs') / r.floorBatchMs)), '100%']));
  add(row([`Stepwise runtime alone, ${options.prompts} loops at once`, fixed(med((r) => perSecond(r.runtimeAllMs)), 1), fixed(ratio.runtimeAllOverBatch), fixed(med((r) => total(r, 'tjs') / r.runtimeAllMs)), `(mean run ${fixed(med((r) => (options.prompts * options.newTokens) / r.runtimeAllRuns), 1)})`]));
  /** A row of concurrent streams: tokens/s, ÷ the static batch, ÷ transformers.js one by one, batched share. */
  const concurrentRow = (label: string, run: (rep: Repetition) => ConcurrentRun) =>
    add(row([label, fixed(med((r) => perSecond(run(r).wallMs)), 1), fixed(med((r) => r.floorBatchMs / run(r).wallMs)), fixed(med((r) => total(r, 'tjs') / run(r).wallMs)), `${fixed(100 * share(run), 0)}% (mean run ${fixed(meanBatch(run), 1)})`]));
  concurrentRow(`Stepwise ${options.prompts} AUTO streams, together`, (r) => r.together);
  concurrentRow(`Stepwise ${options.prompts} AUTO together, no logits`, (r) => r.togetherNone);
  concurrentRow(`Stepwise ${options.prompts} AUTO, together, health-checked`, (r) => r.probed);
  concurrentRow(`Stepwise ${options.prompts} AUTO streams, ${options.staggerMs} ms apart`, (r) => r.staggered);
  add(row([`Stepwise ${options.prompts} AUTO one after another`, fixed(med((r) => perSecond(total(r, 'auto'))), 1), fixed(med((r) => r.floorBatchMs / total(r, 'auto'))), fixed(med((r) => total(r, 'tjs') / total(r, 'auto'))), '0%']));
  add(row([`transformers.js ${options.prompts} one after another`, fixed(med((r) => perSecond(total(r, 'tjs'))), 1), fixed(med((r) => r.floorBatchMs / total(r, 'tjs'))), '1.000', '—']));
  add(`(the static batch is ${fixed(ratio.batchOverOne, 2)}× the floor's one-at-a-time tokens/s)`);
  add();
  add(`CPU time outside ONNX Runtime, ms per generated token (the server's serving thread${Number.isNaN(cpu.auto.serving) ? ': not measured off Linux' : ''}; the client process):`);
  add(cpuRow(['', 'serving thread', 'client', 'both']));
  const cpuLine = (name: string, figures: { serving: number; client: number }) =>
    add(cpuRow([name, fixed(figures.serving), fixed(figures.client), fixed(figures.serving + figures.client)]));
  cpuLine('AUTO, one prompt at a time', cpu.auto);
  cpuLine('AUTO, no logits', cpu.autoNone);
  cpuLine('LOCKSTEP, one prompt at a time', cpu.lockstep);
  cpuLine('LOCKSTEP, no logits', cpu.lockstepNone);
  cpuLine(`${options.prompts} AUTO together`, cpu.together);
  cpuLine(`${options.prompts} AUTO together, no logits`, cpu.togetherNone);
  cpuLine(`bare grpc-js round trip of one row (per row)`, cpu.bare);
  add(`  (bare round trips: ${reps[0]!.bare.count} one after another of a ${reps[0]!.bare.rowBytes}-byte row, ${fixed(cpu.bare.wall)} ms each;`);
  add(`  the floor used ${fixed(cpu.floor)} ms of CPU per token over its ${fixed(floorMs)} ms, ${fixed(cpu.floor / floorMs, 2)} of this machine's ${machine.cores} cores)`);
  add();
  add(`server while ${options.prompts} streams decode (the health-checked run): event-loop delay p99 ${fixed(eventLoopP99, 2)} ms (worst repetition ${fixed(eventLoopWorst, 2)} ms, max ${fixed(Math.max(...reps.map((r) => r.probed.probe.eventLoopMaxMs)), 1)} ms); health check p99 ${fixed(percentile(healthAll, 99), 2)} ms, max ${fixed(healthMax, 2)} ms over ${healthAll.length} checks`);
  add(`server memory: RSS ${fixed(memory.coldRss / MIB, 1)} MiB before any stream was held, ${fixed(memory.idleRss / MIB, 1)} MiB idle after one cycle of holding and releasing ${memory.heldTwiceStates} streams (one-time growth: arena, allocator),`);
  add(`  then ${fixed(memory.idleRss / MIB, 1)} MiB idle, ${fixed(memory.heldRss / MIB, 1)} MiB with ${options.prompts} streams held at their last step, ${fixed(memory.heldTwiceRss / MIB, 1)} MiB with ${memory.heldTwiceStates}, ${fixed(memory.releasedRss / MIB, 1)} MiB after they ended (${memory.releasedStates} states left)`);
  add(`live buffers on both server threads: ${fixed(memory.idleBuffers / MIB, 1)} MiB idle, ${fixed(memory.heldBuffers / MIB, 1)} MiB with ${options.prompts} streams held, ${fixed(memory.heldTwiceBuffers / MIB, 1)} MiB with ${memory.heldTwiceStates}`);
  add(`per live stream (idle → ${memory.heldTwiceStates} held): ${fixed(rssPerStream / MIB, 2)} MiB of RSS, ${fixed(buffersPerStream / MIB, 2)} MiB of live buffers; its KV cache (${options.newTokens} self + ${options.promptTokens} cross positions) is ${fixed(kvBytes / MIB, 2)} MiB`);
  add(`same greedy ids as the floor (sequences): ${agreement(reps)}`);
  add();
  add('targets:');
  const target = (name: string, value: number, limit: number, atMost: boolean, digits = 3) =>
    add(`  ${(atMost ? value <= limit : value >= limit) ? 'met   ' : 'MISSED'} ${name}: ${fixed(value, digits)} (${atMost ? '≤' : '≥'} ${limit})`);
  target('AUTO time per token ÷ floor', ratio.autoOverFloor, 1.03, true);
  target('transformers.js time ÷ AUTO time', ratio.tjsOverAuto, 1.0, false);
  target('LOCKSTEP time per token ÷ floor', ratio.lockstepOverFloor, 1.08, true);
  target(`${options.prompts} concurrent AUTO ÷ static batch floor (tokens/s)`, ratio.togetherOverBatch, 0.9, false);
  target(`${options.prompts} concurrent AUTO ÷ transformers.js one after another (tokens/s)`, ratio.togetherOverTjsSequential, 3.5, false);
  target(`${options.prompts} staggered AUTO ÷ AUTO one after another (tokens/s)`, ratio.staggeredOverSingle, 1.0, false);
  target('event-loop delay p99 (ms, worst repetition)', eventLoopWorst, 20, true, 2);
  target('health check max (ms)', healthMax, 50, true, 2);
  target('RSS per live stream − its KV cache (MiB)', (rssPerStream - kvBytes) / MIB, 1, true, 2);
  target('live buffers per stream − its KV cache (MiB)', (buffersPerStream - kvBytes) / MIB, 1, true, 2);
  process.stdout.write(`${lines.join('\n')}\n`);

  if (options.json) {
    const json = {
      floor_ms_per_token: round(floorMs),
      auto_over_floor: round(ratio.autoOverFloor),
      auto_no_logits_over_floor: round(ratio.autoNoneOverFloor),
      lockstep_over_floor: round(ratio.lockstepOverFloor),
      lockstep_no_logits_over_floor: round(ratio.lockstepNoneOverFloor),
      tjs_over_auto: round(ratio.tjsOverAuto),
      concurrent16_over_batch16_floor: round(ratio.togetherOverBatch),
      concurrent16_no_logits_over_batch16_floor: round(ratio.togetherNoneOverBatch),
      concurrent16_over_tjs_sequential: round(ratio.togetherOverTjsSequential),
      staggered16_over_single: round(ratio.staggeredOverSingle),
      event_loop_p99_ms: round(eventLoopWorst),
      rss_mb_per_stream: round(rssPerStream / MIB),
      buffers_mb_per_stream: round(buffersPerStream / MIB),
      tjs_ms_per_token: round(tjsMs),
      auto_ms_per_token: round(autoMs),
      lockstep_ms_per_token: round(lockstepMs),
      runtime_over_floor: round(ratio.runtimeOverFloor),
      runtime_concurrent_over_batch_floor: round(ratio.runtimeAllOverBatch),
      tjs_over_floor: round(ratio.tjsOverFloor),
      batch16_floor_tokens_per_s: round(batchTps, 1),
      concurrent16_tokens_per_s: round(togetherTps, 1),
      staggered16_tokens_per_s: round(staggeredTps, 1),
      concurrent16_health_checked_tokens_per_s: round(probedTps, 1),
      concurrent16_batched_share: round(share((r) => r.together)),
      staggered16_batched_share: round(share((r) => r.staggered)),
      health_check_max_ms: round(healthMax),
      kv_cache_mb_per_stream: round(kvBytes / MIB),
      floor_cpu_ms_per_token: round(cpu.floor),
      auto_serving_thread_cpu_ms_per_token: round(cpu.auto.serving),
      auto_client_cpu_ms_per_token: round(cpu.auto.client),
      concurrent16_serving_thread_cpu_ms_per_token: round(cpu.together.serving),
      concurrent16_client_cpu_ms_per_token: round(cpu.together.client),
      bare_row_round_trip_ms: round(cpu.bare.wall),
      bare_row_serving_thread_cpu_ms: round(cpu.bare.serving),
      bare_row_client_cpu_ms: round(cpu.bare.client),
      server_rss_idle_mb: round(memory.idleRss / MIB, 1),
      server_rss_cold_mb: round(memory.coldRss / MIB, 1),
      prompts: options.prompts,
      new_tokens: options.newTokens,
      repetitions: reps.length,
    };
    process.stdout.write(`${JSON.stringify(json)}\n`);
  }
}

function agreement(reps: readonly Repetition[]): string {
  const first = reps[0]!;
  const floor = first.tokens.floor!;
  return Object.entries(first.tokens)
    .filter(([name]) => name !== 'floor')
    .map(([name, sequences]) => {
      const same = sequences.filter((ids, index) => JSON.stringify(ids) === JSON.stringify(floor[index])).length;
      return `${name} ${same}/${floor.length}`;
    })
    .join(', ');
}

function onOff(value: boolean | undefined): string {
  return value === undefined ? 'default' : value ? 'on' : 'off';
}

function fixed(value: number, digits = 3): string {
  return Number.isFinite(value) ? value.toFixed(digits) : '—';
}

/** Column widths: a name, three numbers, and a last column wide enough for "100% (mean run 16.0)". */
const WIDTHS = [44, 12, 14, 14, 24];

/** The CPU table: a name and three numbers. */
function cpuRow(cells: readonly string[]): string {
  const [first, ...rest] = cells;
  return `  ${first!.padEnd(WIDTHS[0]!)}${rest.map((cell) => cell.padStart(16)).join('')}`;
}

function row(cells: readonly string[]): string {
  const [first, ...rest] = cells;
  return `  ${first!.padEnd(WIDTHS[0]!)}${rest.map((cell, index) => cell.padStart(WIDTHS[index + 1]!)).join('')}`;
}

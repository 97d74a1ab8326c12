/**
 * The benchmark's server child: a Stepwise server on 127.0.0.1 (an ephemeral port), composed exactly as
 * `stepwise serve` composes it, over the benchmark model. The parent probes it over IPC: event-loop delay
 * (`perf_hooks.monitorEventLoopDelay`), scheduler counters and the serving thread's CPU time over a window,
 * and memory after a full GC. Beside it runs the bare row server of `bare-rows.ts`, the transport without
 * Stepwise, on the same event loop.
 *
 * Started by `run.ts` with `--expose-gc`; its one argument is a `ServerChildConfig` as JSON.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';

import { composeServer } from '../src/composition-root.js';
import { emptySchedulerStats, type SchedulerStats, StepScheduler, WorkerModel } from '../src/runtime/index.js';
import type { Logger } from '../src/server/index.js';
import { startBareRowServer } from './bare-rows.js';
import { mainThreadCpuMs } from './cpu-time.js';
import type { ServerAnswer, ServerChildConfig, ServerCommand } from './ipc.js';

/** Per-stream info lines would only add noise (and time) to the measurement; warnings and errors show. */
class QuietLogger implements Logger {
  debug(): void {}
  info(): void {}
  warn(message: string): void {
    process.stderr.write(`server: WARN ${message}\n`);
  }
  error(message: string, cause?: unknown): void {
    process.stderr.write(`server: ERROR ${message} ${cause instanceof Error ? (cause.stack ?? cause.message) : ''}\n`);
  }
}

const config = JSON.parse(process.argv[2] ?? '{}') as ServerChildConfig;
const app = await composeServer({
  modelDir: config.modelDir,
  logger: new QuietLogger(),
  load: {
    ...(config.intraOpNumThreads === undefined ? {} : { intraOpNumThreads: config.intraOpNumThreads }),
    ...(config.intraOpSpinning === undefined ? {} : { intraOpSpinning: config.intraOpSpinning }),
    ...(config.enableCpuMemArena === undefined ? {} : { enableCpuMemArena: config.enableCpuMemArena }),
    ...(config.runAhead === undefined ? {} : { runAhead: config.runAhead }),
    ...(config.threadNice === undefined ? {} : { threadNice: config.threadNice }),
  },
  scheduler: {
    ...(config.maxWaitMs === undefined ? {} : { maxWaitMs: config.maxWaitMs }),
    ...(config.maxBatch === undefined ? {} : { maxBatch: config.maxBatch }),
    ...(config.catchUpSteps === undefined ? {} : { catchUpSteps: config.catchUpSteps }),
  },
  limits: { maxConcurrentStreams: 64 },
  ...(config.responseEncoding === undefined ? {} : { responseEncoding: config.responseEncoding }),
});
const port = await app.server.start({ host: '127.0.0.1', port: 0 });
// The transport alone, for comparison: its own server, on this process's event loop like Stepwise's.
const bare = await startBareRowServer();
const scheduler = app.model instanceof StepScheduler ? app.model : undefined;
const loopDelay = monitorEventLoopDelay({ resolution: 1 });
let statsAtStart: SchedulerStats | undefined;
let servingThreadCpuAtStart = 0;
let monitoring = false;

const answer = (message: ServerAnswer) => process.send!(message);

process.on('message', (command: ServerCommand) => {
  switch (command.kind) {
    case 'probe-start':
      loopDelay.reset();
      monitoring = command.loopDelay;
      if (monitoring) loopDelay.enable();
      statsAtStart = scheduler?.stats;
      servingThreadCpuAtStart = mainThreadCpuMs();
      return answer({ kind: 'probe-started' });
    case 'probe-read': {
      if (monitoring) loopDelay.disable();
      const now = scheduler?.stats;
      return answer({
        kind: 'probe',
        eventLoopP99Ms: monitoring ? loopDelay.percentile(99) / 1e6 : Number.NaN,
        eventLoopMaxMs: monitoring ? loopDelay.max / 1e6 : Number.NaN,
        scheduler: difference(now, statsAtStart),
        servingThreadCpuMs: mainThreadCpuMs() - servingThreadCpuAtStart,
      });
    }
    case 'memory':
      void measureMemory().then(answer);
      return;
    case 'stop':
      bare.stop();
      void app.dispose().then(() => {
        answer({ kind: 'stopped' });
        process.disconnect();
      });
      return;
  }
});
answer({ kind: 'ready', port, barePort: bare.port });

/** RSS, and the bytes of buffers alive on both threads, each after a full GC. */
async function measureMemory(): Promise<ServerAnswer> {
  const model = scheduler?.inner;
  const thread = model instanceof WorkerModel ? await model.threadMemory() : undefined;
  // Twice, a turn apart (see the model thread's memory request): the second pass sees what the first freed.
  globalThis.gc?.();
  await new Promise((resolve) => setImmediate(resolve));
  globalThis.gc?.();
  return {
    kind: 'memory',
    rssBytes: process.memoryUsage.rss(),
    liveStates: app.model.liveStates,
    arrayBuffers: process.memoryUsage().arrayBuffers + (thread?.arrayBuffers ?? 0),
  };
}

function difference(now: SchedulerStats | undefined, before: SchedulerStats | undefined): SchedulerStats {
  const zero = emptySchedulerStats();
  if (now === undefined || before === undefined) return zero;
  const keys = Object.keys(zero) as (keyof SchedulerStats)[];
  return Object.fromEntries(keys.map((key) => [key, now[key] - before[key]])) as unknown as SchedulerStats;
}

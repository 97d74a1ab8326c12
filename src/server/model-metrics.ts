/**
 * The metrics of each served model's step scheduler and model thread, one series per model (label
 * `model`, the name requests use): decoder batch sizes, heard from the scheduler's `onRun` hook as runs
 * end (the runtime knows no metrics library), and, read when scraped, the model's busy time and its
 * thread's run-ahead counts. Every model's series exist from the start, at 0 until it runs.
 *
 * ```ts
 * const unsubscribe = registerModelMetrics(registry, [{ name: 'small', scheduler, runAhead: () => worker.threadRunAhead() }]);
 * // stepwise_decoder_batch_size_count{model="small"}, stepwise_model_busy_seconds_total{model="small"}, ...
 * unsubscribe();   // stops listening to the schedulers; the registry stays readable
 * ```
 */
import { performance } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { SchedulerRunListener, SchedulerStats } from '../runtime/step-scheduler.js';
import type { RunAheadStats } from '../runtime/worker/worker-protocol.js';

export const METRIC_PREFIX = 'stepwise_';
const BATCH_SIZES = [1, 2, 4, 8, 16, 32, 64];

/** What one served model's metrics are read from. */
export interface ModelMetricSource {
  /** The model's name (`--model NAME=DIR`, else its folder's): the `model` label of its series. */
  readonly name: string;
  /** Its step scheduler: its counters (busy time) and its runs (batch sizes). */
  readonly scheduler?: { readonly stats: SchedulerStats; onRun(listener: SchedulerRunListener): () => void };
  /** Its model thread's run-ahead counts (a worker model's `threadRunAhead`); absent when it runs in process. */
  readonly runAhead?: () => Promise<RunAheadStats>;
}

/** One model's series of a metric read when scraped. */
interface ReadSeries {
  readonly model: string;
  read(): number | Promise<number>;
}

type Scheduled = ModelMetricSource & Required<Pick<ModelMetricSource, 'scheduler'>>;
type Threaded = ModelMetricSource & Required<Pick<ModelMetricSource, 'runAhead'>>;

/** Registers every model's metrics in `registry`; returns what stops listening to the schedulers. */
export function registerModelMetrics(registry: Registry, models: readonly ModelMetricSource[]): () => void {
  const scheduled = models.filter((model): model is Scheduled => model.scheduler !== undefined);
  const threaded = models.filter((model): model is Threaded => model.runAhead !== undefined);
  const unsubscribe = observeBatchSizes(registry, scheduled);
  if (scheduled.length > 0) addModelBusy(registry, scheduled);
  if (threaded.length > 0) addRunAhead(registry, threaded);
  return unsubscribe;
}

function observeBatchSizes(registry: Registry, models: readonly Scheduled[]): () => void {
  const histogram = new Histogram({
    name: `${METRIC_PREFIX}decoder_batch_size`,
    help: 'States stepped together in one decoder run',
    buckets: BATCH_SIZES,
    labelNames: ['model'],
    registers: [registry],
  });
  const listeners = models.map(({ name, scheduler }) => {
    histogram.zero({ model: name });
    const sizes = histogram.labels({ model: name });
    return scheduler.onRun((run) => run.kind === 'decoder' && sizes.observe(run.size));
  });
  return () => listeners.forEach((stop) => stop());
}

/** Busy time as a counter (`rate()` of it is the busy fraction) and as the fraction since the last scrape. */
function addModelBusy(registry: Registry, models: readonly Scheduled[]): void {
  readCounter(
    registry,
    'model_busy_seconds_total',
    'Time during which the model ran a decoder or encoder run',
    models.map(({ name, scheduler }) => ({ model: name, read: () => scheduler.stats.busyMs / 1000 })),
  );
  readGauge(
    registry,
    'model_busy_ratio',
    'Fraction of the time since the previous scrape during which the model was running',
    models.map(({ name, scheduler }) => ({ model: name, read: busyRatio(() => scheduler.stats.busyMs) })),
  );
}

/** The fraction of the time since its previous call (the previous scrape) during which `busyMs` grew. */
function busyRatio(busyMs: () => number): () => number {
  let last = { at: performance.now(), busyMs: busyMs() };
  return () => {
    const now = { at: performance.now(), busyMs: busyMs() };
    const ratio = now.at > last.at ? (now.busyMs - last.busyMs) / (now.at - last.at) : 0;
    last = now;
    return Math.min(1, Math.max(0, ratio));
  };
}

/** Each model thread's run-ahead counts, read when scraped. */
function addRunAhead(registry: Registry, models: readonly Threaded[]): void {
  const counts = models.map(({ name, runAhead }) => ({ model: name, refresh: runAheadReader(runAhead) }));
  readCounter(
    registry,
    'run_ahead_guesses_total',
    'Steps the model thread ran ahead on the token it expected (hits, misses and guesses not yet answered)',
    counts.map(({ model, refresh }) => ({ model, read: async () => (await refresh()).guessed })),
  );
  readCounter(
    registry,
    'run_ahead_hits_total',
    'Steps run ahead whose token the stream then took',
    counts.map(({ model, refresh }) => ({ model, read: async () => (await refresh()).hits })),
  );
}

/**
 * One model thread's counts (they restart from 0 with a new thread, which Prometheus reads as a counter
 * reset). Both counters of one scrape share one reply; while the thread cannot answer, the last counts
 * read stay.
 */
function runAheadReader(read: () => Promise<RunAheadStats>): () => Promise<RunAheadStats> {
  let counts: RunAheadStats = { guessed: 0, hits: 0 };
  let reading: Promise<RunAheadStats> | undefined;
  return () =>
    (reading ??= read()
      .catch(() => counts)
      .then((answer) => {
        counts = answer;
        reading = undefined;
        return answer;
      }));
}

/** A counter whose values, one per model, are read from elsewhere when scraped. */
function readCounter(registry: Registry, name: string, help: string, series: readonly ReadSeries[]): void {
  new Counter({
    name: METRIC_PREFIX + name,
    help,
    labelNames: ['model'],
    registers: [registry],
    async collect() {
      const values = await Promise.all(series.map((each) => each.read()));
      this.reset();
      series.forEach(({ model }, index) => this.inc({ model }, values[index]!));
    },
  });
}

/** A gauge whose values, one per model, are read when scraped. */
function readGauge(registry: Registry, name: string, help: string, series: readonly ReadSeries[]): void {
  new Gauge({
    name: METRIC_PREFIX + name,
    help,
    labelNames: ['model'],
    registers: [registry],
    async collect() {
      const values = await Promise.all(series.map((each) => each.read()));
      series.forEach(({ model }, index) => this.set({ model }, values[index]!));
    },
  });
}

/**
 * One server's metrics, in its own prom-client `Registry` (two servers in one process share nothing and
 * clash on no name). Streams report as they run (`StreamReport`), the access log counts every RPC, the step
 * scheduler reports each run through its `onRun` hook (the runtime knows no metrics library); the rest is
 * read when scraped: open and queued streams, the model's busy time, the model thread's run-ahead counts.
 * README.md ("Logs and metrics") says what each metric means.
 *
 * ```ts
 * const metrics = new ServerMetrics({ slots, scheduler, runAhead: () => worker.threadRunAhead(), processMetrics: true });
 * const text = await metrics.registry.metrics();   // the Prometheus text format
 * ```
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { SchedulerRunListener, SchedulerStats } from '../runtime/step-scheduler.js';
import type { RunAheadStats } from '../runtime/worker/worker-protocol.js';

export interface MetricSources {
  /** Streams open now; `queued` (streams waiting for a slot) is read too where the slots keep a queue. */
  readonly slots: { readonly active: number };
  /** The step scheduler: its counters (busy time) and its runs (batch sizes). */
  readonly scheduler?: { readonly stats: SchedulerStats; onRun(listener: SchedulerRunListener): () => void };
  /** The model thread's run-ahead counts (a worker model's `threadRunAhead`); absent when the model runs in process. */
  readonly runAhead?: () => Promise<RunAheadStats>;
  /** Also collect prom-client's default process metrics (CPU, memory, event loop lag, GC) in this registry. */
  readonly processMetrics?: boolean;
}

/** What a running stream reports (`StreamReport`). */
export interface StreamMetrics {
  stepComputed(seconds: number): void;
  firstStepSent(seconds: number): void;
  tokenTaken(forced: boolean): void;
  rewound(): void;
  encoderInput(tokens: number): void;
}

/** What response writers report: bytes written to streams and not yet taken by the transport. */
export interface ResponseBacklog {
  buffered(bytes: number): void;
  /** A stream starts (+1) or stops (−1) waiting for its reader. */
  waiting(change: 1 | -1): void;
}

const PREFIX = 'stepwise_';
const SECONDS_PER_STEP = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1];
const SECONDS_TO_FIRST_STEP = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const BATCH_SIZES = [1, 2, 4, 8, 16, 32, 64];
const INPUT_TOKENS = [8, 16, 32, 64, 128, 256, 512, 1024];

export class ServerMetrics implements StreamMetrics, ResponseBacklog {
  readonly registry = new Registry();
  private readonly rpcs = this.counter('rpcs_total', 'RPCs ended, by method and status code', ['method', 'code']);
  private readonly tokens = this.counter('tokens_generated_total', 'Tokens taken by streams (selected or forced; rewound ones included)');
  private readonly forced = this.counter('forced_tokens_total', 'Tokens forced by clients');
  private readonly rewinds = this.counter('rewinds_total', 'Rewinds applied to streams');
  private readonly stepSeconds = this.histogram('step_seconds', "Time per decoder step of a stream, from its request to its row", SECONDS_PER_STEP);
  private readonly firstStep = this.histogram(
    'time_to_first_logits_seconds',
    "Time from a stream's Start to its first step's message (its StepLogits, or its first token when it streams no logits)",
    SECONDS_TO_FIRST_STEP,
  );
  private readonly batchSize = this.histogram('decoder_batch_size', 'States stepped together in one decoder run', BATCH_SIZES);
  private readonly inputTokens = this.histogram('encoder_input_tokens', "Length of a stream's encoder input, in tokens", INPUT_TOKENS);
  private backlogBytes = 0;
  private waitingStreams = 0;
  private readonly unsubscribe: () => void;

  constructor(private readonly sources: MetricSources) {
    this.gauge('streams_open', 'Decode and Generate streams open now', () => sources.slots.active);
    this.gauge('streams_queued', 'Streams waiting for a stream slot', () => queuedStreams(sources.slots));
    this.gauge('response_buffered_bytes', 'Bytes of responses written to streams and not yet taken by the transport', () => this.backlogBytes);
    this.gauge('streams_waiting_for_reader', "Streams whose next message waits until the client reads (back-pressure)", () => this.waitingStreams);
    this.addModelBusy();
    this.addRunAhead();
    this.unsubscribe = sources.scheduler?.onRun((run) => run.kind === 'decoder' && this.batchSize.observe(run.size)) ?? (() => {});
    if (sources.processMetrics) collectDefaultMetrics({ register: this.registry });
  }

  rpcEnded(method: string, code: string): void {
    this.rpcs.inc({ method, code });
  }

  stepComputed(seconds: number): void {
    this.stepSeconds.observe(seconds);
  }

  firstStepSent(seconds: number): void {
    this.firstStep.observe(seconds);
  }

  tokenTaken(forced: boolean): void {
    this.tokens.inc();
    if (forced) this.forced.inc();
  }

  rewound(): void {
    this.rewinds.inc();
  }

  encoderInput(tokens: number): void {
    this.inputTokens.observe(tokens);
  }

  buffered(bytes: number): void {
    this.backlogBytes += bytes;
  }

  waiting(change: 1 | -1): void {
    this.waitingStreams += change;
  }

  /** Stops listening to the scheduler; the registry stays readable. */
  dispose(): void {
    this.unsubscribe();
  }

  /** Busy time as a counter (`rate()` of it is the busy fraction) and as the fraction since the last scrape. */
  private addModelBusy(): void {
    const scheduler = this.sources.scheduler;
    if (scheduler === undefined) return;
    this.readCounter('model_busy_seconds_total', 'Time during which the model ran a decoder or encoder run', () => scheduler.stats.busyMs / 1000);
    let last = { at: performance.now(), busyMs: scheduler.stats.busyMs };
    this.gauge('model_busy_ratio', 'Fraction of the time since the previous scrape during which the model was running', () => {
      const now = { at: performance.now(), busyMs: scheduler.stats.busyMs };
      const ratio = now.at > last.at ? (now.busyMs - last.busyMs) / (now.at - last.at) : 0;
      last = now;
      return Math.min(1, Math.max(0, ratio));
    });
  }

  /**
   * The model thread's counts, read when scraped (they restart from 0 with a new thread, which Prometheus
   * reads as a counter reset). Both counters of one scrape share one reply; while the thread cannot
   * answer, the last counts read stay.
   */
  private addRunAhead(): void {
    const read = this.sources.runAhead;
    if (read === undefined) return;
    let counts: RunAheadStats = { guessed: 0, hits: 0 };
    let reading: Promise<RunAheadStats> | undefined;
    const refresh = (): Promise<RunAheadStats> =>
      (reading ??= read()
        .catch(() => counts)
        .then((read) => {
          counts = read;
          reading = undefined;
          return read;
        }));
    this.readCounter(
      'run_ahead_guesses_total',
      'Steps the model thread ran ahead on the token it expected (hits, misses and guesses not yet answered)',
      async () => (await refresh()).guessed,
    );
    this.readCounter('run_ahead_hits_total', 'Steps run ahead whose token the stream then took', async () => (await refresh()).hits);
  }

  /** A counter whose value is read from elsewhere when scraped. */
  private readCounter(name: string, help: string, read: () => number | Promise<number>): void {
    new Counter({
      name: PREFIX + name,
      help,
      registers: [this.registry],
      async collect() {
        const value = await read();
        this.reset();
        this.inc(value);
      },
    });
  }

  private counter<L extends string>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
    return new Counter({ name: PREFIX + name, help, labelNames, registers: [this.registry] });
  }

  private histogram(name: string, help: string, buckets: number[]): Histogram {
    return new Histogram({ name: PREFIX + name, help, buckets, registers: [this.registry] });
  }

  private gauge(name: string, help: string, read: () => number): Gauge {
    return new Gauge({
      name: PREFIX + name,
      help,
      registers: [this.registry],
      collect() {
        this.set(read());
      },
    });
  }
}

/** Streams waiting for a slot, where the slots keep a queue (`StreamSlots.queued`); else none. */
function queuedStreams(slots: object): number {
  const queued = (slots as { readonly queued?: unknown }).queued;
  return typeof queued === 'number' ? queued : 0;
}

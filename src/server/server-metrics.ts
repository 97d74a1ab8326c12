/**
 * One server's metrics, in its own prom-client `Registry` (two servers in one process share nothing and
 * clash on no name). Streams report as they run (`StreamReport`), each to its model's series; the access
 * log counts every RPC; each model's scheduler and thread have their own series (`model-metrics.ts`); the
 * rest is read when scraped: open and queued streams, responses waiting for their readers. Every series
 * that belongs to a model carries its name in the label `model`. README.md ("Logs and metrics") says what
 * each metric means.
 *
 * ```ts
 * const metrics = new ServerMetrics({ slots, models: [{ name: 'small', scheduler, runAhead: () => worker.threadRunAhead() }], processMetrics: true });
 * metrics.forModel('small').tokenTaken(false);   // stepwise_tokens_generated_total{model="small"} 1
 * const text = await metrics.registry.metrics();   // the Prometheus text format
 * ```
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { METRIC_PREFIX as PREFIX, registerModelMetrics, type ModelMetricSource } from './model-metrics.js';

export interface MetricSources {
  /** Streams open now; `queued` (streams waiting for a slot) is read too where the slots keep a queue. */
  readonly slots: { readonly active: number };
  /** Each served model's scheduler and thread, the default first; each has its own series from the start. */
  readonly models?: readonly ModelMetricSource[];
  /** Also collect prom-client's default process metrics (CPU, memory, event loop lag, GC) in this registry. */
  readonly processMetrics?: boolean;
}

/** What a running stream reports, to the series of its model. */
export interface StreamMetrics {
  stepComputed(seconds: number): void;
  firstStepSent(seconds: number): void;
  tokenTaken(forced: boolean): void;
  rewound(): void;
  encoderInput(tokens: number): void;
}

/** Where a stream's metrics go: the series of the model it runs on. */
export interface StreamMetricsByModel {
  forModel(model: string): StreamMetrics;
}

/** What response writers report: bytes written to streams and not yet taken by the transport. */
export interface ResponseBacklog {
  buffered(bytes: number): void;
  /** A stream starts (+1) or stops (−1) waiting for its reader. */
  waiting(change: 1 | -1): void;
}

const SECONDS_PER_STEP = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1];
const SECONDS_TO_FIRST_STEP = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const INPUT_TOKENS = [8, 16, 32, 64, 128, 256, 512, 1024];

type ModelLabel = 'model';

export class ServerMetrics implements StreamMetricsByModel, ResponseBacklog {
  readonly registry = new Registry();
  private readonly rpcs = this.counter('rpcs_total', 'RPCs ended, by method and status code', ['method', 'code']);
  private readonly tokens = this.counter('tokens_generated_total', 'Tokens taken by streams (selected or forced; rewound ones included)', ['model']);
  private readonly forced = this.counter('forced_tokens_total', 'Tokens forced by clients', ['model']);
  private readonly rewinds = this.counter('rewinds_total', 'Rewinds applied to streams', ['model']);
  private readonly stepSeconds = this.histogram('step_seconds', "Time per decoder step of a stream, from its request to its row", SECONDS_PER_STEP);
  private readonly firstStep = this.histogram(
    'time_to_first_logits_seconds',
    "Time from a stream's Start to its first step's message (its StepLogits, or its first token when it streams no logits)",
    SECONDS_TO_FIRST_STEP,
  );
  private readonly inputTokens = this.histogram('encoder_input_tokens', "Length of a stream's encoder input, in tokens", INPUT_TOKENS);
  private backlogBytes = 0;
  private waitingStreams = 0;
  private readonly streamsOf = new Map<string, StreamMetrics>();
  private readonly unsubscribe: () => void;

  constructor(sources: MetricSources) {
    this.gauge('streams_open', 'Decode and Generate streams open now', () => sources.slots.active);
    this.gauge('streams_queued', 'Streams waiting for a stream slot', () => queuedStreams(sources.slots));
    this.gauge('response_buffered_bytes', 'Bytes of responses written to streams and not yet taken by the transport', () => this.backlogBytes);
    this.gauge('streams_waiting_for_reader', "Streams whose next message waits until the client reads (back-pressure)", () => this.waitingStreams);
    for (const { name } of sources.models ?? []) this.forModel(name);
    this.unsubscribe = registerModelMetrics(this.registry, sources.models ?? []);
    if (sources.processMetrics) collectDefaultMetrics({ register: this.registry });
  }

  rpcEnded(method: string, code: string): void {
    this.rpcs.inc({ method, code });
  }

  /** The stream metrics of `model`, whose series start at 0 the first time it is named (at construction for those served). */
  forModel(model: string): StreamMetrics {
    let metrics = this.streamsOf.get(model);
    if (metrics === undefined) {
      metrics = this.modelStreams(model);
      this.streamsOf.set(model, metrics);
    }
    return metrics;
  }

  buffered(bytes: number): void {
    this.backlogBytes += bytes;
  }

  waiting(change: 1 | -1): void {
    this.waitingStreams += change;
  }

  /** Stops listening to the schedulers; the registry stays readable. */
  dispose(): void {
    this.unsubscribe();
  }

  private modelStreams(model: string): StreamMetrics {
    const labels = { model };
    const tokens = this.tokens.labels(labels);
    const forced = this.forced.labels(labels);
    const rewinds = this.rewinds.labels(labels);
    const steps = this.stepSeconds.labels(labels);
    const firstStep = this.firstStep.labels(labels);
    const inputTokens = this.inputTokens.labels(labels);
    // Each series is there from the start, at 0, not from the model's first stream.
    for (const counter of [tokens, forced, rewinds]) counter.inc(0);
    for (const histogram of [this.stepSeconds, this.firstStep, this.inputTokens]) histogram.zero(labels);
    return {
      stepComputed: (seconds) => steps.observe(seconds),
      firstStepSent: (seconds) => firstStep.observe(seconds),
      tokenTaken: (isForced) => {
        tokens.inc();
        if (isForced) forced.inc();
      },
      rewound: () => rewinds.inc(),
      encoderInput: (count) => inputTokens.observe(count),
    };
  }

  private counter<L extends string>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
    return new Counter({ name: PREFIX + name, help, labelNames, registers: [this.registry] });
  }

  /** A histogram with one series per model. */
  private histogram(name: string, help: string, buckets: number[]): Histogram<ModelLabel> {
    return new Histogram({ name: PREFIX + name, help, buckets, labelNames: ['model'], registers: [this.registry] });
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

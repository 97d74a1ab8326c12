/**
 * What one `Decode` or `Generate` stream did, gathered as it runs: for its access-log line at its end
 * (model, input length, tokens, steps, forced tokens, rewinds, finish reason) and, live, for the server's
 * metrics. Most of it is read from the messages the stream sends (`sent`); what no message shows (the
 * time of each decoder step, a rewind) the session reports itself through `StreamObserver`. The metrics
 * go to the series of the model its `Started` names (a stream runs no step before it).
 */
import { performance } from 'node:perf_hooks';
import { FinishReason, TokenSource } from '../gen/stepwise/v1/stepwise.js';
import type { LogFields } from './logger.js';
import type { StreamMetrics, StreamMetricsByModel } from './server-metrics.js';
import type { SessionMessage } from './session-wire.js';

/** What a decode session reports that its messages do not show. */
export interface StreamObserver {
  /** A decoder step ran for the stream, `ms` from its request to its row. */
  stepComputed(ms: number): void;
  /** The stream's last `count` tokens were taken back. */
  rewound(count: number): void;
}

export class StreamReport implements StreamObserver {
  private model: string | undefined;
  /** The metrics of the stream's model, once its `Started` named it. */
  private modelMetrics: StreamMetrics | undefined;
  private inputTokens: number | undefined;
  private tokens = 0;
  private forced = 0;
  private steps = 0;
  private rewinds = 0;
  private finishReason: string | undefined;
  private firstStepSent = false;
  private closed = false;

  /** `startedAt`: `performance.now()` when the call began. */
  constructor(
    private readonly metrics: StreamMetricsByModel,
    readonly startedAt = performance.now(),
  ) {}

  stepComputed(ms: number): void {
    this.steps += 1;
    this.modelMetrics?.stepComputed(ms / 1000);
  }

  rewound(count: number): void {
    this.rewinds += 1;
    this.tokens -= count;
    this.modelMetrics?.rewound();
  }

  /** Called with every message the stream writes, as it writes it. */
  sent(message: SessionMessage): void {
    switch (message.$case) {
      case 'started':
        this.model = message.value.modelName;
        this.modelMetrics = this.metrics.forModel(this.model);
        this.inputTokens = message.value.inputIds.length;
        this.modelMetrics.encoderInput(this.inputTokens);
        return;
      case 'logits':
        return this.stepSent();
      case 'token':
        this.stepSent();
        this.tokenTaken(message.value.source === TokenSource.TOKEN_SOURCE_FORCED);
        return;
      case 'finished':
        this.tokens = message.value.tokenIds.length;
        this.finishReason = finishReasonName(message.value.reason);
        return;
    }
  }

  /** Marks the report as logged; false when it already was (a call ends once, however many events say so). */
  close(): boolean {
    if (this.closed) return false;
    this.closed = true;
    return true;
  }

  /** The access line's stream fields; a stream that ended before its `Started` has none but its steps. */
  fields(): LogFields {
    return {
      ...(this.model !== undefined && { model: this.model, inputTokens: this.inputTokens }),
      tokens: this.tokens,
      steps: this.steps,
      ...(this.forced > 0 && { forcedTokens: this.forced }),
      ...(this.rewinds > 0 && { rewinds: this.rewinds }),
      ...(this.finishReason !== undefined && { finishReason: this.finishReason }),
    };
  }

  private stepSent(): void {
    if (this.firstStepSent) return;
    this.firstStepSent = true;
    this.modelMetrics?.firstStepSent((performance.now() - this.startedAt) / 1000);
  }

  private tokenTaken(forced: boolean): void {
    this.tokens += 1;
    if (forced) this.forced += 1;
    this.modelMetrics?.tokenTaken(forced);
  }
}

/** `FINISH_REASON_MAX_NEW_TOKENS` → `max_new_tokens`. */
function finishReasonName(reason: FinishReason): string {
  return (FinishReason[reason] ?? String(reason)).replace(/^FINISH_REASON_/, '').toLowerCase();
}

/**
 * One stream's scoring: its pipeline (from now on, and for the step being decided), the working copy of
 * the logits row, and the selection rule. "Score this step of this stream" in one place, for any caller
 * (the server's decode session, benchmarks, tests): nothing here knows of gRPC.
 *
 * Every step copies the raw row once into the working row (the raw row is what was streamed and stays
 * untouched) and runs the whole pipeline there, in order, in place; greedy selection takes the argmax of
 * that, sampling draws from it.
 *
 * Usage:
 * ```ts
 * const scoring = new StreamScoring({ registry, context, specs, fields: ['processors[0]'], selector, report: { topNAlternatives: 3 } });
 * scoring.change([{ kind: 'remove', name: 'top_k', scope: 'this-step' }], 'decision.pipeline_changes');
 * const token = scoring.choose(raw, history, step, undefined);   // only what the token needs
 * const score = scoring.report(raw, token, false);               // log-probabilities, alternatives, entropy
 * scoring.endStep();                                             // this step's changes are undone
 * ```
 */
import { count } from './echo.js';
import { namingField, PipelineError, RequestFieldError } from './errors.js';
import { PROCESSOR_LIMITS } from './limits.js';
import { Pipeline, type PipelineChange, type ProcessorLookup } from './pipeline.js';
import {
  entropy,
  logProbability,
  summarizeScores,
  summaryWithRestored,
  topAlternatives,
  type ScoreSummary,
} from './selection/score-statistics.js';
import { StreamScorer } from './selection/stream-scorer.js';
import type { TokenSelector } from './selection/token-selector.js';
import type { ProcessorSpec, StaticContext, StepContext } from './types.js';

/** What a step reports besides the token and its log-probabilities. */
export interface ReportOptions {
  /** Hand back the processed row. */
  readonly processedScores?: boolean;
  /** How many of the most likely tokens to list (0: none). */
  readonly topNAlternatives?: number;
  /** Compute the entropies of the processed and raw rows. */
  readonly entropy?: boolean;
}

/** A candidate token with its log-probabilities. */
export interface ScoredToken {
  readonly tokenId: number;
  /** Under the processed distribution. */
  readonly logprob: number;
  /** Under the raw distribution. */
  readonly rawLogprob: number;
}

/** The result of one step's scoring. */
export interface StepScore extends ScoredToken {
  readonly forced: boolean;
  /** The processed row (the stream's working copy; valid until the next `choose`), when asked for. */
  readonly processedScores: Float32Array | undefined;
  /** The most likely tokens under the processed distribution, most likely first, when asked for. */
  readonly alternatives: readonly ScoredToken[];
  /** Entropies in nats, when asked for. */
  readonly entropy: number | undefined;
  readonly rawEntropy: number | undefined;
}

export interface StreamScoringParts {
  readonly registry: ProcessorLookup;
  readonly context: StaticContext;
  /** The pipeline at the first step, in order. */
  readonly specs: readonly ProcessorSpec[];
  /** `fields[i]` names the request field spec i came from (e.g. "processors[2]"), for errors. */
  readonly fields: readonly string[];
  readonly selector: TokenSelector;
  readonly report: ReportOptions;
}

export class StreamScoring {
  /** The pipeline from now on. */
  private base: Pipeline;
  /** The pipeline of the step being decided (the base plus this step's changes). */
  private current: Pipeline;
  private readonly scorer: StreamScorer;
  private readonly reportOptions: ReportOptions;

  /** Builds the pipeline; a refused spec throws `RequestFieldError` naming its field. */
  constructor(parts: StreamScoringParts) {
    const { registry, context, specs, fields } = parts;
    this.base = namingField(
      () => Pipeline.build(registry, specs, context),
      (error) => {
        const index = specs.findIndex((spec) => refersTo(error, spec.name));
        return index === -1 ? 'processors' : fields[index]!;
      },
    );
    this.current = this.base;
    this.scorer = new StreamScorer(context.vocabSize, parts.selector);
    this.reportOptions = parts.report;
  }

  /**
   * A scoring of its own with the same pipelines (this step's changes included) and selection rule, and its
   * own working row: another sequence of the same stream (a branch) whose pipeline then changes on its own.
   * The processor instances are shared, which their contract allows: they read the history a step gives
   * them and keep nothing between steps that it does not determine.
   */
  fork(): StreamScoring {
    const copy = Object.create(StreamScoring.prototype) as { -readonly [K in keyof StreamScoring]: StreamScoring[K] };
    Object.assign(copy, { base: this.base, current: this.current, reportOptions: this.reportOptions });
    Object.assign(copy, { scorer: new StreamScorer(this.scorer.vocabSize, this.scorer.selector) });
    return copy as StreamScoring;
  }

  /** The pipeline of the step being decided, in order. */
  pipeline(): readonly ProcessorSpec[] {
    return this.current.specs;
  }

  /**
   * Applies changes in order: those scoped to this step change only its pipeline, the others both. Each
   * processor is validated and created once. Nothing changes when one of them is refused; the error is a
   * `RequestFieldError` naming `field[i]`.
   */
  change(changes: readonly PipelineChange[], field: string): void {
    if (changes.length === 0) return;
    const limit = PROCESSOR_LIMITS.pipelineChanges;
    if (changes.length > limit) {
      const refusal = new PipelineError(`at most ${count(limit)} pipeline changes at once; given ${count(changes.length)}`);
      throw new RequestFieldError(field, refusal);
    }
    let base = this.base;
    let current = this.current;
    changes.forEach((change, i) => {
      namingField(
        () => {
          const prepared = current.prepare(change);
          current = current.withPrepared([prepared]);
          if (change.scope !== 'this-step') base = base.withPrepared([prepared]);
        },
        () => `${field}[${i}]`,
      );
    });
    this.base = base;
    this.current = current;
  }

  /**
   * Runs the pipeline of `step` on the working copy of `raw` (which stays untouched) and returns `forced`,
   * or the selected token when `forced` is undefined. Only what the token needs is computed here, so the
   * caller can start its next decoder step at once; `report` computes the rest. Throws
   * `EmptyDistributionError` when selecting from a row with no finite score left.
   */
  choose(raw: Float32Array, history: readonly number[], step: number, forced: number | undefined): number {
    const context: StepContext = { history, step };
    if (forced === undefined) return this.scorer.choose(raw, this.current, context);
    this.scorer.process(raw, this.current, context);
    return forced;
  }

  /**
   * The scores and statistics of `tokenId`, chosen by the last `choose` for the same `raw` row (which must
   * still be valid; the processed row is the working copy `choose` left).
   */
  report(raw: Float32Array, tokenId: number, forced: boolean): StepScore {
    const processed = this.scorer.scores;
    // Sampling and greedy selection already summarized the processed row; the scorer hands that back.
    const processedSummary = this.scorer.summary();
    const rawSummary = this.current.length === 0 ? processedSummary : this.rawSummary(raw, processed, processedSummary);
    const scored = (id: number, processedLogprob = logProbability(processed, id, processedSummary)): ScoredToken => ({
      tokenId: id,
      logprob: processedLogprob,
      rawLogprob: logProbability(raw, id, rawSummary),
    });
    const { topNAlternatives = 0, processedScores = false, entropy: wantsEntropy = false } = this.reportOptions;
    return {
      ...scored(tokenId),
      forced,
      processedScores: processedScores ? processed : undefined,
      alternatives:
        topNAlternatives > 0
          ? topAlternatives(processed, topNAlternatives, processedSummary).map((alternative) =>
              scored(alternative.tokenId, alternative.logProbability),
            )
          : [],
      entropy: wantsEntropy ? entropy(processedSummary) : undefined,
      rawEntropy: wantsEntropy ? entropy(rawSummary) : undefined,
    };
  }

  /** Ends the step: changes scoped to it are undone. */
  endStep(): void {
    this.current = this.base;
  }

  /**
   * When greedy selection will most likely take the raw row's argmax unless it is one of the returned ids,
   * from the next step on: a guess for running that step ahead (`Pipeline.argmaxKeptUnless`). Undefined
   * when sampling or when the raw row does not tell.
   */
  argmaxKeptUnless(): readonly number[] | undefined {
    // The base pipeline: this step's changes are gone by the next step.
    return this.scorer.selector.mode === 'greedy' ? this.base.argmaxKeptUnless() : undefined;
  }

  /**
   * The raw row's statistics. When every stage lowers only ids it lists, the processed row differs from
   * the raw one at most there, and the raw statistics follow from the processed ones without a second pass
   * over the vocabulary.
   */
  private rawSummary(raw: Float32Array, processed: Float32Array, processedSummary: ScoreSummary): ScoreSummary {
    const lowered = this.current.lowersOnly();
    const restored = lowered === undefined ? undefined : summaryWithRestored(processedSummary, raw, processed, lowered);
    return restored ?? summarizeScores(raw);
  }
}

/** Whether a refusal concerns the processor `name`. */
function refersTo(error: Error, name: string): boolean {
  return 'processor' in error && error.processor === name;
}

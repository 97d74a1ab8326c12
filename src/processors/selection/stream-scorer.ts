/**
 * One stream's scoring step: copy the raw row into the stream's working buffer, run the pipeline on it,
 * select a token. The working buffer is the only vocabulary-sized memory a stream owns; it is reused at
 * every step, so no step allocates a row.
 *
 * Usage:
 * ```ts
 * const scorer = new StreamScorer(vocabSize, createTokenSelector({ mode: 'sample', seed: 42n }));
 * const token = scorer.choose(rawLogits, pipeline, stepContext);   // throws EmptyDistributionError
 * const processed = scorer.scores;                                 // valid until the next call
 * const logp = logProbability(processed, token, scorer.summary()); // no second pass after sampling
 * ```
 */
import { EmptyDistributionError } from '../errors.js';
import type { Pipeline } from '../pipeline.js';
import type { StepContext } from '../types.js';
import { summarizeScores, type ScoreSummary } from './score-statistics.js';
import type { TokenSelector } from './token-selector.js';

export class StreamScorer {
  /** The working copy of the row: the processed scores after `process` or `choose`. */
  readonly scores: Float32Array;
  private cachedSummary: ScoreSummary | undefined;

  constructor(
    readonly vocabSize: number,
    readonly selector: TokenSelector,
  ) {
    this.scores = new Float32Array(vocabSize);
  }

  /** Copies `raw` into the working buffer and runs `pipeline` on it; returns the buffer. */
  process(raw: Float32Array, pipeline: Pipeline, context: StepContext): Float32Array {
    if (raw.length !== this.vocabSize) {
      throw new RangeError(`a logits row must have ${this.vocabSize} entries; given ${raw.length}`);
    }
    this.cachedSummary = undefined;
    this.scores.set(raw);
    pipeline.run(this.scores, context);
    return this.scores;
  }

  /**
   * Processes `raw` and selects a token. When no finite score is left, throws `EmptyDistributionError`
   * naming the step and the processors that removed the candidates (found by re-running the pipeline).
   */
  choose(raw: Float32Array, pipeline: Pipeline, context: StepContext): number {
    this.process(raw, pipeline, context);
    try {
      if (this.selector.selectWithSummary === undefined) return this.selector.select(this.scores, context.step);
      const { token, summary } = this.selector.selectWithSummary(this.scores, context.step);
      this.cachedSummary = summary;
      return token;
    } catch (error) {
      if (!(error instanceof EmptyDistributionError)) throw error;
      const removers = pipeline.removersOfFiniteScores(raw, this.scores, context);
      throw new EmptyDistributionError(context.step, removers);
    }
  }

  /** Statistics of the processed scores of this step (computed once; free after sampling). */
  summary(): ScoreSummary {
    return (this.cachedSummary ??= summarizeScores(this.scores));
  }
}

/**
 * `StreamScoring` over the processors module: one stream's `Pipeline` and its `StreamScorer` (the working
 * copy of the logits row and the selection rule).
 *
 * Every step copies the raw row once into the stream's working row (the raw row is what was streamed and
 * must stay untouched) and runs the pipeline there, in place. Greedy selection skips the processors that
 * cannot change the argmax, as Hugging Face adds its warpers (temperature, top-k, top-p, ...) only when
 * sampling; the processed distribution reported with a greedy token is therefore the one greedy saw.
 */
import { status as Status } from '@grpc/grpc-js';
import {
  entropy,
  logProbability,
  Pipeline,
  PipelineError,
  ProcessorParameterError,
  StreamScorer,
  summarizeScores,
  summaryWithRestored,
  topAlternatives,
  UnknownProcessorError,
  type PipelineChange,
  type ProcessorLookup,
  type ProcessorSpec,
  type ScoreSummary,
  type StaticContext,
  type StepContext,
  type TokenSelector,
} from '../processors/index.js';
import type { StreamPlan } from './decode-plan.js';
import { ServerError } from './status.js';
import type { PipelineEdit, ScoredToken, StepScore, StreamScoring } from './stream-scoring.js';

export class ProcessorScoring implements StreamScoring {
  /** The pipeline from now on. */
  private base: Pipeline;
  /** The pipeline of the current step (the base plus this step's temporary changes). */
  private current: Pipeline;
  private readonly scorer: StreamScorer;
  /** Whether the last `choose` left the processed scores equal to the raw row. */
  private untouched = false;

  /**
   * Builds the stream's pipeline from `specs`; `fields[i]` names where spec i came from (e.g.
   * "processors[2]" or "generation_config.top_p") in errors.
   */
  constructor(
    registry: ProcessorLookup,
    context: StaticContext,
    specs: readonly ProcessorSpec[],
    fields: readonly string[],
    selector: TokenSelector,
    private readonly stream: StreamPlan,
  ) {
    this.base = withFieldNames(() => Pipeline.build(registry, specs, context), (error) => {
      const index = specs.findIndex((spec) => errorNames(error, spec.name));
      return index === -1 ? 'processors' : fields[index]!;
    });
    this.current = this.base;
    this.scorer = new StreamScorer(context.vocabSize, selector);
  }

  /** Whether the stream selects greedily: then argmax-invariant processors never run (the selector is fixed at `Start`). */
  private get greedy(): boolean {
    return this.scorer.selector.mode === 'greedy';
  }

  pipeline(): readonly ProcessorSpec[] {
    return this.current.specs;
  }

  change(edits: readonly PipelineEdit[], field: string): void {
    // Changes apply in order; those scoped to this step only touch the step's pipeline, the others both.
    let base = this.base;
    let current = this.current;
    edits.forEach((edit, i) => {
      const change = pipelineChange(edit);
      withFieldNames(
        () => {
          current = current.with([change]);
          if (edit.scope === 'from-now-on') base = base.with([change]);
        },
        () => `${field}[${i}]`,
      );
    });
    this.base = base;
    this.current = current;
  }

  choose(raw: Float32Array, history: readonly number[], step: number, forced: number | undefined): number {
    const context: StepContext = { history, step };
    const options = { argmaxOnly: this.greedy };
    // When no processor runs on the row (an empty pipeline, or greedy selection skipping argmax-invariant
    // ones), the processed scores are the raw row bit for bit: one pass over the vocabulary serves both.
    this.untouched = this.current.length === 0 || (options.argmaxOnly && this.current.isArgmaxInvariant());
    if (forced === undefined) return this.scorer.choose(raw, this.current, context, options);
    this.scorer.process(raw, this.current, context, options);
    return forced;
  }

  report(raw: Float32Array, tokenId: number, forced: boolean): StepScore {
    const processed = this.scorer.scores;
    // Sampling already summarized the processed row; the scorer hands that summary back.
    const processedSummary = this.scorer.summary();
    const rawSummary = this.untouched ? processedSummary : this.rawSummary(raw, processed, processedSummary);
    const scored = (id: number, processedLogprob = logProbability(processed, id, processedSummary)): ScoredToken => ({
      tokenId: id,
      logprob: processedLogprob,
      rawLogprob: logProbability(raw, id, rawSummary),
    });
    const { topNAlternatives, processedScores, entropy: wantsEntropy } = this.stream;
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

  endStep(): void {
    this.current = this.base;
  }

  /**
   * The raw row's statistics. Greedy selection ran only the processors that can move the argmax; when each
   * of those only lowers listed ids, the processed row differs from the raw one at most there, and the raw
   * statistics follow from the processed ones without a second pass over the vocabulary.
   */
  private rawSummary(raw: Float32Array, processed: Float32Array, processedSummary: ScoreSummary): ScoreSummary {
    const lowered = this.greedy ? this.current.argmaxKeptUnless() : undefined;
    const restored = lowered === undefined ? undefined : summaryWithRestored(processedSummary, raw, processed, lowered);
    return restored ?? summarizeScores(raw);
  }

  argmaxKeptUnless(): readonly number[] | undefined {
    // The base pipeline: this step's temporary changes are gone by the next step.
    return this.greedy ? this.base.argmaxKeptUnless() : undefined;
  }
}

function pipelineChange(edit: PipelineEdit): PipelineChange {
  switch (edit.kind) {
    case 'add':
      return edit.index === undefined
        ? { kind: 'add', spec: edit.processor }
        : { kind: 'add', spec: edit.processor, index: edit.index };
    case 'replace':
      return { kind: 'replace', spec: edit.processor };
    case 'remove':
      return { kind: 'remove', name: edit.name };
  }
}

/** Whether a processors error is about the processor `name`. */
function errorNames(error: unknown, name: string): boolean {
  if (error instanceof ProcessorParameterError || error instanceof UnknownProcessorError) {
    return error.processor === name;
  }
  return error instanceof PipelineError && error.message.includes(`\`${name}\``);
}

/**
 * Runs `action`; a processors error is re-raised as INVALID_ARGUMENT prefixed with the request field it
 * came from, so the client sees where (e.g. "`processors[1]`: processor `top_p`: `top_p` must be in
 * (0, 1]; given 1.5").
 */
function withFieldNames<T>(action: () => T, fieldOf: (error: unknown) => string): T {
  try {
    return action();
  } catch (error) {
    if (
      error instanceof ProcessorParameterError ||
      error instanceof UnknownProcessorError ||
      error instanceof PipelineError
    ) {
      throw new ServerError(Status.INVALID_ARGUMENT, `\`${fieldOf(error)}\`: ${error.message}`, { cause: error });
    }
    throw error;
  }
}

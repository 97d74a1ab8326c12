/**
 * A stream's ordered list of processor instances, built from specs through the registry. Immutable: a
 * change returns a new pipeline that shares the untouched instances (and their state), so "for this step
 * only" is simply running a changed copy once and keeping the original.
 *
 * Usage:
 * ```ts
 * let pipeline = Pipeline.build(registry, specs, staticContext);            // validates every spec first
 * pipeline.run(row, stepContext);                                            // in place, in order
 * pipeline = pipeline.with([{ kind: 'replace', spec: { name: 'top_p', params } }]);  // from now on
 * pipeline.with([{ kind: 'remove', name: 'top_p' }]).run(row, stepContext);   // this step only
 * const change = pipeline.prepare({ kind: 'add', spec });   // validated and created once ...
 * pipeline = pipeline.withPrepared([change]);                // ... for as many pipelines as need it
 * ```
 *
 * A pipeline always runs every stage, in order: greedy selection included. A stage that alone keeps the
 * argmax (top-k, temperature) does not keep it once a later stage reads what it removed or rescaled
 * (typical-p after top-k, a bias after top-k 1), and the scores a stream reports with its token are those
 * of the whole pipeline.
 */
import { count, named } from './echo.js';
import { PipelineError } from './errors.js';
import { PROCESSOR_LIMITS } from './limits.js';
import type { LogitsProcessor, ProcessorDefinition, ProcessorSpec, StaticContext, StepContext } from './types.js';

/** Where definitions come from (the `ProcessorRegistry`). */
export interface ProcessorLookup {
  get(name: string): ProcessorDefinition;
}

export interface PipelineStage {
  readonly spec: ProcessorSpec;
  readonly processor: LogitsProcessor;
}

/** How long a change made during a stream lasts: the step being decided only, or every step from it on. */
export type PipelineScope = 'this-step' | 'from-now-on';

/** One change to a pipeline, as a `Decode` client sends it; `scope` matters to a stream (`StreamScoring`). */
export type PipelineChange = (
  /** Inserts a processor whose name is not in the pipeline yet, at `index` (default: last). */
  | { readonly kind: 'add'; readonly spec: ProcessorSpec; readonly index?: number | undefined }
  /** Replaces the processor of the same name, in its position, with new parameters. */
  | { readonly kind: 'replace'; readonly spec: ProcessorSpec }
  /** Removes the processor of this name. */
  | { readonly kind: 'remove'; readonly name: string }
) & { readonly scope?: PipelineScope };

/** A change whose processor is validated and created (`Pipeline.prepare`); applying it creates nothing. */
export type PreparedChange =
  | { readonly kind: 'add'; readonly stage: PipelineStage; readonly index: number | undefined }
  | { readonly kind: 'replace'; readonly stage: PipelineStage }
  | { readonly kind: 'remove'; readonly name: string };

export class Pipeline {
  /** `argmaxKeptUnless` and `lowersOnly`, once worked out (null: not yet). */
  private keptUnless: readonly number[] | undefined | null = null;
  private lowered: readonly number[] | undefined | null = null;

  private constructor(
    private readonly registry: ProcessorLookup,
    private readonly context: StaticContext,
    readonly stages: readonly PipelineStage[],
  ) {}

  /**
   * Validates every spec (unknown names, parameters, duplicate names), then creates the instances. Throws
   * `UnknownProcessorError`, `ProcessorParameterError` or `PipelineError` before creating anything.
   */
  static build(registry: ProcessorLookup, specs: readonly ProcessorSpec[], context: StaticContext): Pipeline {
    const limit = PROCESSOR_LIMITS.pipelineProcessors;
    if (specs.length > limit) {
      throw new PipelineError(`a pipeline holds at most ${count(limit)} processors; given ${count(specs.length)}`);
    }
    const seen = new Set<string>();
    for (const spec of specs) {
      if (seen.has(spec.name)) {
        throw new PipelineError(`processor ${named(spec.name)} appears twice in the pipeline; give it once`, spec.name);
      }
      seen.add(spec.name);
    }
    const validated = specs.map((spec) => validate(registry, spec, context));
    return new Pipeline(registry, context, validated.map((create) => create()));
  }

  get length(): number {
    return this.stages.length;
  }

  /** Processor names, in order. */
  get names(): string[] {
    return this.stages.map((stage) => stage.spec.name);
  }

  /** The specs the pipeline was built from, in order (what `Started.pipeline` reports). */
  get specs(): ProcessorSpec[] {
    return this.stages.map((stage) => stage.spec);
  }

  /**
   * When greedy selection over this pipeline most likely picks the raw row's argmax unless that is one of
   * a few ids: those ids (every stage argmax-invariant, or lowering only the ids it lists). Undefined when a
   * stage can move the maximum anywhere. A guess for running the next step ahead, not a rule: rounding in
   * a rescaling stage can still tie two scores. Pipelines never change (`with` builds a new one), so it is
   * worked out once.
   */
  argmaxKeptUnless(): readonly number[] | undefined {
    if (this.keptUnless === null) {
      const ids = new Set<number>();
      let known = true;
      for (const { processor } of this.stages) {
        if (processor.isArgmaxInvariant()) continue;
        const lowered = processor.lowersOnly?.();
        if (lowered === undefined) {
          known = false;
          break;
        }
        lowered.forEach((id) => ids.add(id));
      }
      this.keptUnless = known ? [...ids] : undefined;
    }
    return this.keptUnless;
  }

  /**
   * The ids whose scores the pipeline may change, when every stage lowers only ids it lists
   * (`LogitsProcessor.lowersOnly`): the processed row then equals the raw one everywhere else, and the raw
   * row's statistics follow from the processed ones. Undefined otherwise.
   */
  lowersOnly(): readonly number[] | undefined {
    if (this.lowered === null) {
      const ids = new Set<number>();
      let known = true;
      for (const { processor } of this.stages) {
        const lowered = processor.lowersOnly?.();
        if (lowered === undefined) {
          known = false;
          break;
        }
        lowered.forEach((id) => ids.add(id));
      }
      this.lowered = known ? [...ids] : undefined;
    }
    return this.lowered;
  }

  /** Applies every stage to `row`, in order, in place. */
  run(row: Float32Array, context: StepContext): void {
    const stages = this.stages;
    for (let i = 0; i < stages.length; i++) stages[i]!.processor.apply(row, context);
  }

  /**
   * Applies `changes` in order and returns the resulting pipeline; this one is left as it was, also when a
   * change is refused. Throws `PipelineError`, `UnknownProcessorError` or `ProcessorParameterError`.
   */
  with(changes: readonly PipelineChange[]): Pipeline {
    return this.withPrepared(changes.map((change) => this.prepare(change)));
  }

  /**
   * Validates a change's processor and creates its instance, so that one change can be applied to several
   * pipelines (a stream's pipeline from now on and its pipeline of this step) with one instance and one
   * validation. Throws `UnknownProcessorError` or `ProcessorParameterError`; whether the change fits a
   * pipeline is checked when it is applied.
   */
  prepare(change: PipelineChange): PreparedChange {
    switch (change.kind) {
      case 'add':
        return { kind: 'add', stage: validate(this.registry, change.spec, this.context)(), index: change.index };
      case 'replace':
        return { kind: 'replace', stage: validate(this.registry, change.spec, this.context)() };
      case 'remove':
        return { kind: 'remove', name: change.name };
    }
  }

  /** `with` for changes already prepared: checks that each fits, in order; throws `PipelineError`. */
  withPrepared(changes: readonly PreparedChange[]): Pipeline {
    const stages = [...this.stages];
    const position = (name: string): number => stages.findIndex((stage) => stage.spec.name === name);
    for (const change of changes) {
      switch (change.kind) {
        case 'add': {
          const { name } = change.stage.spec;
          if (position(name) >= 0) {
            throw new PipelineError(`cannot add \`${name}\`: it is already in the pipeline; replace it instead`, name);
          }
          const index = change.index ?? stages.length;
          if (!Number.isInteger(index) || index < 0 || index > stages.length) {
            throw new PipelineError(`cannot add \`${name}\` at index ${index}: the index must be in [0, ${stages.length}]`, name);
          }
          if (stages.length === PROCESSOR_LIMITS.pipelineProcessors) {
            throw new PipelineError(`cannot add \`${name}\`: a pipeline holds at most ${count(stages.length)} processors`, name);
          }
          stages.splice(index, 0, change.stage);
          break;
        }
        case 'replace': {
          const index = position(change.stage.spec.name);
          if (index < 0) {
            const { name } = change.stage.spec;
            throw new PipelineError(`cannot replace \`${name}\`: it is not in the pipeline (${describeNames(stages)})`, name);
          }
          stages[index] = change.stage;
          break;
        }
        case 'remove': {
          const index = position(change.name);
          if (index < 0) {
            const message = `cannot remove ${named(change.name)}: it is not in the pipeline (${describeNames(stages)})`;
            throw new PipelineError(message, change.name);
          }
          stages.splice(index, 1);
          break;
        }
      }
    }
    return new Pipeline(this.registry, this.context, stages);
  }

  /**
   * Explains an empty row: re-runs the pipeline on a fresh copy of `raw` in `work`, stage by stage, and names
   * the processors that turned finite scores into non-finite ones (the last one emptied the row). `work` is
   * overwritten; processors are deterministic in (row, history), so the re-run repeats what happened.
   */
  removersOfFiniteScores(raw: Float32Array, work: Float32Array, context: StepContext): string[] {
    work.set(raw);
    let finite = countFinite(work);
    const removers: string[] = [];
    for (const { spec, processor } of this.stages) {
      processor.apply(work, context);
      const after = countFinite(work);
      if (after < finite) removers.push(spec.name);
      finite = after;
    }
    return removers;
  }
}

function describeNames(stages: readonly PipelineStage[]): string {
  return stages.length === 0 ? 'it is empty' : `it has ${stages.map((stage) => `\`${stage.spec.name}\``).join(', ')}`;
}

/** Validates one spec now; returns the deferred creation of its stage. */
function validate(registry: ProcessorLookup, spec: ProcessorSpec, context: StaticContext): () => PipelineStage {
  const definition = registry.get(spec.name);
  const params = definition.validate(spec.params, context);
  return () => ({ spec, processor: definition.create(params, context) });
}

function countFinite(row: Float32Array): number {
  let count = 0;
  for (let i = 0; i < row.length; i++) if (Number.isFinite(row[i])) count++;
  return count;
}

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
 * ```
 */
import { PipelineError } from './errors.js';
import type { LogitsProcessor, ProcessorDefinition, ProcessorSpec, StaticContext, StepContext } from './types.js';

/** Where definitions come from (the `ProcessorRegistry`). */
export interface ProcessorLookup {
  get(name: string): ProcessorDefinition;
}

export interface PipelineStage {
  readonly spec: ProcessorSpec;
  readonly processor: LogitsProcessor;
}

/** One change to a pipeline, as a `Decode` client sends it. */
export type PipelineChange =
  /** Inserts a processor whose name is not in the pipeline yet, at `index` (default: last). */
  | { readonly kind: 'add'; readonly spec: ProcessorSpec; readonly index?: number }
  /** Replaces the processor of the same name, in its position, with new parameters. */
  | { readonly kind: 'replace'; readonly spec: ProcessorSpec }
  /** Removes the processor of this name. */
  | { readonly kind: 'remove'; readonly name: string };

export interface RunOptions {
  /**
   * Skip processors that cannot change the argmax (greedy selection when the processed scores are not
   * streamed: Hugging Face adds its warpers only when sampling).
   */
  readonly argmaxOnly?: boolean;
}

export class Pipeline {
  /** `argmaxKeptUnless`, once worked out (null: not yet). */
  private keptUnless: readonly number[] | undefined | null = null;

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
    const seen = new Set<string>();
    for (const spec of specs) {
      if (seen.has(spec.name)) {
        throw new PipelineError(`processor \`${spec.name}\` appears twice in the pipeline; give it once`);
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

  /** True when greedy selection may skip every stage. */
  isArgmaxInvariant(): boolean {
    return this.stages.every((stage) => stage.processor.isArgmaxInvariant());
  }

  /**
   * When greedy selection over this pipeline picks the raw row's argmax unless that is one of a few ids:
   * those ids (every stage argmax-invariant, or lowering only the ids it lists). Undefined when a stage can
   * move the maximum anywhere. Pipelines never change (`with` builds a new one), so it is worked out once.
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

  /** Applies every stage to `row`, in order, in place. */
  run(row: Float32Array, context: StepContext, options?: RunOptions): void {
    const argmaxOnly = options?.argmaxOnly === true;
    const stages = this.stages;
    for (let i = 0; i < stages.length; i++) {
      const processor = stages[i]!.processor;
      if (argmaxOnly && processor.isArgmaxInvariant()) continue;
      processor.apply(row, context);
    }
  }

  /**
   * Applies `changes` in order and returns the resulting pipeline; this one is left as it was. Every change
   * is checked before any instance is created, so a rejected list changes nothing. Throws `PipelineError`,
   * `UnknownProcessorError` or `ProcessorParameterError`.
   */
  with(changes: readonly PipelineChange[]): Pipeline {
    type Draft = { readonly spec: ProcessorSpec; readonly existing?: LogitsProcessor; readonly create?: () => PipelineStage };
    const drafts: Draft[] = this.stages.map((stage) => ({ spec: stage.spec, existing: stage.processor }));
    const position = (name: string): number => drafts.findIndex((draft) => draft.spec.name === name);
    for (const change of changes) {
      switch (change.kind) {
        case 'add': {
          const { spec } = change;
          if (position(spec.name) >= 0) {
            throw new PipelineError(`cannot add \`${spec.name}\`: it is already in the pipeline; replace it instead`);
          }
          const index = change.index ?? drafts.length;
          if (!Number.isInteger(index) || index < 0 || index > drafts.length) {
            throw new PipelineError(`cannot add \`${spec.name}\` at index ${index}: the index must be in [0, ${drafts.length}]`);
          }
          drafts.splice(index, 0, { spec, create: validate(this.registry, spec, this.context) });
          break;
        }
        case 'replace': {
          const index = position(change.spec.name);
          if (index < 0) throw new PipelineError(`cannot replace \`${change.spec.name}\`: it is not in the pipeline (${this.describeNames(drafts)})`);
          drafts[index] = { spec: change.spec, create: validate(this.registry, change.spec, this.context) };
          break;
        }
        case 'remove': {
          const index = position(change.name);
          if (index < 0) throw new PipelineError(`cannot remove \`${change.name}\`: it is not in the pipeline (${this.describeNames(drafts)})`);
          drafts.splice(index, 1);
          break;
        }
      }
    }
    const stages = drafts.map((draft) => (draft.create !== undefined ? draft.create() : { spec: draft.spec, processor: draft.existing! }));
    return new Pipeline(this.registry, this.context, stages);
  }

  /**
   * Explains an empty row: re-runs the pipeline on a fresh copy of `raw` in `work`, stage by stage, and names
   * the processors that turned finite scores into non-finite ones (the last one emptied the row). `work` is
   * overwritten; processors are deterministic in (row, history), so the re-run repeats what happened.
   */
  removersOfFiniteScores(raw: Float32Array, work: Float32Array, context: StepContext, options?: RunOptions): string[] {
    work.set(raw);
    let finite = countFinite(work);
    const removers: string[] = [];
    for (const { spec, processor } of this.stages) {
      if (options?.argmaxOnly === true && processor.isArgmaxInvariant()) continue;
      processor.apply(work, context);
      const after = countFinite(work);
      if (after < finite) removers.push(spec.name);
      finite = after;
    }
    return removers;
  }

  private describeNames(drafts: readonly { readonly spec: ProcessorSpec }[]): string {
    return drafts.length === 0 ? 'it is empty' : `it has ${drafts.map((draft) => `\`${draft.spec.name}\``).join(', ')}`;
  }
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

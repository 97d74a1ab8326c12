/**
 * Opens a decode stream from its `Start`: validates it (`start-request.ts`), builds the stream's pipeline
 * (`requested-pipeline.ts`) and scoring, refusing bad processor parameters before any model work, runs
 * the encoder, and hands back a `DecodeSession` ready to run. Shared by `Decode` and `Generate`.
 */
import { inject, injectable } from 'tsyringe';
import { type DecodeRequest, SelectionMode, Start } from '../gen/stepwise/v1/stepwise.js';
import { createTokenSelector, ProcessorRegistry, StreamScoring } from '../processors/index.js';
import type { ModelRuntime } from '../runtime/types.js';
import { MODEL_RUNTIME, SERVER_LIMITS } from '../tokens.js';
import { BranchBudget } from './branch-budget.js';
import type { ClientMessages } from './client-messages.js';
import { DecodeSession } from './decode-session.js';
import { EventLoopTurns } from './event-loop-turns.js';
import { ModelDefaults } from './model-defaults.js';
import { requestedPipeline } from './requested-pipeline.js';
import type { ServerLimits } from './server-limits.js';
import type { MalformedRequest } from './service-definition.js';
import { resolveStart, type StartingRpc } from './start-request.js';
import { staticContext } from './static-context.js';
import type { SendMessage } from './step-messages.js';
import type { StreamObserver } from './stream-report.js';

/** The call side of a session: how it writes, what it reads, when it must stop. */
export interface SessionIo {
  readonly send: SendMessage;
  readonly messages: ClientMessages<DecodeRequest | MalformedRequest> | undefined;
  readonly signal: AbortSignal;
  /** `performance.now()` when the call began. */
  readonly startedAt: number;
  /** Hears of each decoder step and rewind (the call's `StreamReport`). */
  readonly observer?: StreamObserver;
}

@injectable()
export class SessionFactory {
  /** The model folder's `generation_config.json`, read once. */
  readonly defaults: ModelDefaults;
  /** The forked branches of every stream of this server (`max_total_branches`). */
  readonly branchBudget: BranchBudget;

  constructor(
    @inject(MODEL_RUNTIME) private readonly model: ModelRuntime,
    @inject(SERVER_LIMITS) private readonly limits: ServerLimits,
    @inject(ProcessorRegistry) private readonly registry: ProcessorRegistry,
    @inject(EventLoopTurns) private readonly turns: EventLoopTurns,
  ) {
    this.defaults = new ModelDefaults(model.info.generation);
    this.branchBudget = new BranchBudget(limits.maxTotalBranches);
  }

  async open(start: Start, rpc: StartingRpc, io: SessionIo): Promise<DecodeSession> {
    const { model } = this;
    const resolved = resolveStart(start, rpc, model, this.limits, this.defaults);
    const { plan, selection } = resolved;
    const pipeline = requestedPipeline(resolved, this.defaults);
    const scoring = new StreamScoring({
      registry: this.registry,
      context: staticContext(model, plan),
      specs: pipeline.specs,
      fields: pipeline.fields,
      selector: createTokenSelector(selection.mode === 'sample' ? { mode: 'sample', seed: selection.seed } : { mode: 'greedy' }),
      report: plan.stream,
    });
    io.signal.throwIfAborted();
    const [encoded] = await model.encode([plan.inputIds]);
    io.signal.throwIfAborted();
    const defaultsFromModel = pipeline.fromModel ? [...resolved.defaultsFromModel, 'generation_config'] : resolved.defaultsFromModel;
    return new DecodeSession({
      model,
      plan,
      scoring,
      started: { pipeline: scoring.pipeline(), selection, defaultsFromModel },
      encoded: encoded!,
      ...io,
      turns: this.turns,
      branchLimits: { perStream: this.limits.maxBranchesPerStream, budget: this.branchBudget },
    });
  }

  /**
   * Refuses, at start-up, a model folder whose `generation_config.json` could not serve as a stream's
   * defaults (a value of the wrong type or out of range): every `Start` naming no pipeline would fail.
   * Returns the file's keys that build nothing here, for the start-up log.
   */
  checkDefaults(): readonly string[] {
    const { model } = this;
    const input = [model.info.specialIds.eos];
    for (const mode of ['greedy', 'sample'] as const) {
      const start = Start.fromPartial({
        input: { $case: 'tokenIds', value: { ids: input } },
        selection: { mode: mode === 'sample' ? SelectionMode.SELECTION_MODE_SAMPLE : SelectionMode.SELECTION_MODE_GREEDY, seed: 0n },
      });
      const resolved = resolveStart(start, 'generate', model, this.limits, this.defaults);
      const pipeline = requestedPipeline(resolved, this.defaults);
      new StreamScoring({
        registry: this.registry,
        context: staticContext(model, resolved.plan),
        specs: pipeline.specs,
        fields: pipeline.fields,
        selector: createTokenSelector({ mode: 'greedy' }),
        report: {},
      });
    }
    return this.defaults.unused;
  }
}

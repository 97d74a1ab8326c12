/**
 * Opens a decode stream from its `Start` on the model it chooses (`Start.model`, else the default):
 * validates it (`start-request.ts`), builds the stream's pipeline (`requested-pipeline.ts`) and scoring,
 * refusing bad processor parameters before any model work, runs the encoder, and hands back a
 * `DecodeSession` (or a `BeamSession` for a beam search) ready to run. Shared by `Decode` and `Generate`.
 */
import { inject, injectable } from 'tsyringe';
import { type DecodeRequest, SelectionMode, Start } from '../gen/stepwise/v1/stepwise.js';
import { BeamLogProbs, createTokenSelector, ProcessorRegistry, StreamScoring } from '../processors/index.js';
import type { ModelRuntime } from '../runtime/types.js';
import { MODEL_CATALOG, SERVER_LIMITS } from '../tokens.js';
import { BeamSession } from './beam-session.js';
import { BranchBudget } from './branch-budget.js';
import type { ClientMessages } from './client-messages.js';
import { DecodeSession } from './decode-session.js';
import { EventLoopTurns } from './event-loop-turns.js';
import type { CatalogModel, ModelCatalog } from './model-catalog.js';
import { requestedPipeline, type RequestedPipeline } from './requested-pipeline.js';
import type { ServerLimits } from './server-limits.js';
import type { MalformedRequest } from './service-definition.js';
import { resolveStart, type ResolvedStart, type StartingRpc } from './start-request.js';
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
  /** The forked branches of every stream of this server, whatever its model (`max_total_branches`). */
  readonly branchBudget: BranchBudget;

  constructor(
    @inject(MODEL_CATALOG) private readonly catalog: ModelCatalog,
    @inject(ProcessorRegistry) private readonly registry: ProcessorRegistry,
    @inject(EventLoopTurns) private readonly turns: EventLoopTurns,
    @inject(SERVER_LIMITS) serverLimits: ServerLimits,
  ) {
    this.branchBudget = new BranchBudget(serverLimits.maxTotalBranches);
  }

  async open(start: Start, rpc: StartingRpc, io: SessionIo): Promise<DecodeSession | BeamSession> {
    const { runtime: model, limits, defaults } = this.catalog.resolve(start.model);
    const resolved = resolveStart(start, rpc, model, limits, defaults);
    const { plan, selection } = resolved;
    const pipeline = requestedPipeline(resolved, defaults);
    if (plan.beams !== undefined) return this.openBeams(model, resolved, pipeline, io);
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
      branchLimits: { perStream: limits.maxBranchesPerStream, budget: this.branchBudget },
    });
  }

  /** A beam search: the pipeline runs on each beam's log-probabilities (no token selector). */
  private async openBeams(model: ModelRuntime, resolved: ResolvedStart, pipeline: RequestedPipeline, io: SessionIo): Promise<BeamSession> {
    const { plan } = resolved;
    const logProbs = BeamLogProbs.build({ registry: this.registry, context: staticContext(model, plan), ...pipeline });
    io.signal.throwIfAborted();
    const [encoded] = await model.encode([plan.inputIds]);
    io.signal.throwIfAborted();
    const defaultsFromModel = pipeline.fromModel ? [...resolved.defaultsFromModel, 'generation_config'] : resolved.defaultsFromModel;
    return new BeamSession({
      model,
      plan,
      beams: plan.beams!,
      logProbs,
      started: { pipeline: logProbs.pipeline.specs, selection: resolved.selection, defaultsFromModel },
      encoded: encoded!,
      fork: (state) => state.fork(),
      ...io,
    });
  }

  /**
   * Refuses, at start-up, a model folder whose `generation_config.json` could not serve as a stream's
   * defaults (a value of the wrong type or out of range): every `Start` naming no pipeline would fail.
   * Returns the file's keys that build nothing here, for the start-up log.
   */
  checkDefaults({ runtime: model, limits, defaults }: CatalogModel): readonly string[] {
    const input = [model.info.specialIds.eos];
    for (const mode of ['greedy', 'sample'] as const) {
      const start = Start.fromPartial({
        input: { $case: 'tokenIds', value: { ids: input } },
        selection: { mode: mode === 'sample' ? SelectionMode.SELECTION_MODE_SAMPLE : SelectionMode.SELECTION_MODE_GREEDY, seed: 0n },
      });
      const resolved = resolveStart(start, 'generate', model, limits, defaults);
      const pipeline = requestedPipeline(resolved, defaults);
      new StreamScoring({
        registry: this.registry,
        context: staticContext(model, resolved.plan),
        specs: pipeline.specs,
        fields: pipeline.fields,
        selector: createTokenSelector({ mode: 'greedy' }),
        report: {},
      });
    }
    return defaults.unused;
  }
}

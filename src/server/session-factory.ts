/**
 * Opens a decode stream from its `Start`: validates it (`start-request.ts`), builds the stream's pipeline
 * and selection (refusing bad processor parameters before any model work), runs the encoder, and hands
 * back a `DecodeSession` ready to run. Shared by `Decode` and `Generate`.
 */
import { status as Status } from '@grpc/grpc-js';
import { inject, injectable } from 'tsyringe';
import type { DecodeRequest, GenerationConfig, Start } from '../gen/stepwise/v1/stepwise.js';
import {
  createTokenSelector,
  hfGenerationPipeline,
  ProcessorParameterError,
  ProcessorRegistry,
  type HfGenerationSettings,
  type ProcessorSpec,
} from '../processors/index.js';
import type { ModelRuntime } from '../runtime/types.js';
import { MODEL_RUNTIME, SERVER_LIMITS } from '../tokens.js';
import type { ClientMessages } from './client-messages.js';
import { DecodeSession, type SendMessage } from './decode-session.js';
import { ProcessorScoring } from './processor-scoring.js';
import type { ServerLimits } from './server-limits.js';
import type { MalformedRequest } from './service-definition.js';
import { resolveStart, type ResolvedStart, type StartingRpc } from './start-request.js';
import { staticContext } from './static-context.js';
import { ServerError } from './status.js';

/** The call side of a session: how it writes, what it reads, when it must stop. */
export interface SessionIo {
  readonly send: SendMessage;
  readonly messages: ClientMessages<DecodeRequest | MalformedRequest> | undefined;
  readonly signal: AbortSignal;
  /** `performance.now()` when the call began. */
  readonly startedAt: number;
}

@injectable()
export class SessionFactory {
  constructor(
    @inject(MODEL_RUNTIME) private readonly model: ModelRuntime,
    @inject(SERVER_LIMITS) private readonly limits: ServerLimits,
    @inject(ProcessorRegistry) private readonly registry: ProcessorRegistry,
  ) {}

  async open(start: Start, rpc: StartingRpc, io: SessionIo): Promise<DecodeSession> {
    const { model } = this;
    const resolved = resolveStart(start, rpc, model, this.limits);
    const { plan, selection } = resolved;
    const pipeline = pipelineSpecs(resolved);
    const selector = createTokenSelector(
      selection.mode === 'sample' ? { mode: 'sample', seed: selection.seed } : { mode: 'greedy' },
    );
    const scoring = new ProcessorScoring(
      this.registry,
      staticContext(model, plan),
      pipeline.specs,
      pipeline.fields,
      selector,
      plan.stream,
    );
    io.signal.throwIfAborted();
    const [encoded] = await model.encode([plan.inputIds]);
    io.signal.throwIfAborted();
    return new DecodeSession({
      model,
      plan,
      scoring,
      selection,
      encoded: encoded!,
      send: io.send,
      messages: io.messages,
      signal: io.signal,
      startedAt: io.startedAt,
    });
  }
}

/**
 * The stream's pipeline in Hugging Face's order (the processors module's `hfGenerationPipeline`): the
 * `generation_config` settings and `min_new_tokens` become processors, the client's `processors` go where
 * Hugging Face merges a custom list. `fields[i]` names the request field spec i came from, for errors.
 */
function pipelineSpecs(resolved: ResolvedStart): { specs: ProcessorSpec[]; fields: string[] } {
  const custom = resolved.processors;
  const plan = namingGenerationConfigFields(() =>
    hfGenerationPipeline(hfSettings(resolved.generationConfig, resolved.minNewTokens), {
      decoderPromptLength: 1 + resolved.plan.decoderPrefix.length,
      sampling: resolved.selection.mode === 'sample',
      custom,
    }),
  );
  const fields = plan.specs.map((spec) => {
    const index = custom.findIndex((own) => own.name === spec.name);
    if (index !== -1) return `processors[${index}]`;
    if (resolved.minNewTokens > 0 && (spec.name === 'min_new_tokens' || spec.name === 'min_length')) {
      return 'min_new_tokens';
    }
    return `generation_config.${spec.name}`;
  });
  return { specs: plan.specs, fields };
}

/** Re-raises the generation config's own refusals as INVALID_ARGUMENT naming the request field. */
function namingGenerationConfigFields<T>(build: () => T): T {
  try {
    return build();
  } catch (error) {
    if (error instanceof ProcessorParameterError && error.processor === 'generation_config') {
      const field = error.parameter === 'min_new_tokens' ? 'min_new_tokens' : `generation_config.${error.parameter}`;
      throw new ServerError(Status.INVALID_ARGUMENT, `\`${field}\`: ${error.detail}`, { cause: error });
    }
    throw error;
  }
}

/** The wire `GenerationConfig` (plus `Start.min_new_tokens`) as the processors module's settings. */
function hfSettings(config: GenerationConfig | undefined, minNewTokens: number): HfGenerationSettings {
  const settings: HfGenerationSettings = {
    minNewTokens: minNewTokens > 0 ? minNewTokens : undefined,
  };
  if (config === undefined) return settings;
  return {
    ...settings,
    doSample: config.doSample,
    temperature: config.temperature,
    topK: config.topK,
    topP: config.topP,
    minP: config.minP,
    typicalP: config.typicalP,
    epsilonCutoff: config.epsilonCutoff,
    etaCutoff: config.etaCutoff,
    repetitionPenalty: config.repetitionPenalty,
    encoderRepetitionPenalty: config.encoderRepetitionPenalty,
    noRepeatNgramSize: config.noRepeatNgramSize,
    encoderNoRepeatNgramSize: config.encoderNoRepeatNgramSize,
    badWordsIds: config.badWordsIds.map((words) => words.ids),
    sequenceBias: config.sequenceBias.map((entry) => ({ tokenIds: entry.tokenIds?.ids ?? [], bias: entry.bias })),
    minLength: config.minLength,
    forcedBosTokenId: config.forcedBosTokenId,
    forcedEosTokenId: config.forcedEosTokenId,
    removeInvalidValues: config.removeInvalidValues,
    exponentialDecayLengthPenalty: config.exponentialDecayLengthPenalty,
    suppressTokens: config.suppressTokens,
    beginSuppressTokens: config.beginSuppressTokens,
    renormalizeLogits: config.renormalizeLogits,
  };
}

/**
 * The gRPC server: our service, plus the health and reflection services that attach themselves, bound to
 * one address. Nothing here decodes; the handlers do, one file per RPC.
 *
 * Health reports SERVING (for "" and `stepwise.v1.StepwiseService`) only once every model answered a
 * warm-up step, and NOT_SERVING from the moment shutdown begins. It also follows each model's status
 * (`ModelRuntime.onStatus`), per model under `stepwise.v1.StepwiseService/NAME` (`model-health.ts`):
 * NOT_SERVING from the moment a model thread stops (the cause goes to the log; requests to that model get
 * UNAVAILABLE), SERVING again once a new thread is warmed up, unless shutdown began.
 *
 * Shutdown drains: health goes NOT_SERVING at once, and new calls (streaming and unary) are refused with
 * UNAVAILABLE, streams waiting for a slot too, at once or after the shutdown delay
 * (`LifecycleOptions.shutdownDelayMs`, time for load balancers to notice); open streams run on to their end for up to the
 * drain timeout (`LifecycleOptions.drainTimeoutMs`), then those left end with UNAVAILABLE (their decode
 * states freed), then the server closes; calls still open after the grace period are cut. A drain
 * timeout of 0 ends open streams at once.
 */
import { Server, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { inject, injectable } from 'tsyringe';
import { LIFECYCLE_OPTIONS, LOGGER, MODEL_CATALOG, RESPONSE_ENCODER, SERVER_LIMITS, TRANSPORT_SECURITY } from '../tokens.js';
import { AccessLog } from './access-log.js';
import { DecodeHandler } from './decode-handler.js';
import { DetokenizeHandler } from './detokenize-handler.js';
import { GenerateHandler } from './generate-handler.js';
import { connectionOptions, inSeconds, type LifecycleOptions } from './lifecycle-options.js';
import { ListModelsHandler } from './list-models-handler.js';
import { ListProcessorsHandler } from './list-processors-handler.js';
import type { Logger } from './logger.js';
import type { ModelCatalog } from './model-catalog.js';
import { ModelHealth } from './model-health.js';
import { ModelInfoHandler } from './model-info-handler.js';
import { createReflectionService } from './reflection.js';
import { ScoreBatchHandler } from './score-batch-handler.js';
import { ScoreHandler } from './score-handler.js';
import type { ServerLimits } from './server-limits.js';
import type { ResponseEncoder } from './response-encoder.js';
import { stepwiseServerDefinition } from './service-definition.js';
import { ShutdownSignal, shuttingDown } from './shutdown-signal.js';
import { StreamSlots } from './stream-slots.js';
import { TokenizeHandler } from './tokenize-handler.js';
import type { TransportSecurity } from './transport-security.js';
import { refusedWhileDraining } from './unary-call.js';

/** Where to listen. Port 0 picks a free port (tests); the bound port is returned by `start`. */
export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/** How long open calls get to end after shutdown began before they are cut. */
const SHUTDOWN_GRACE_MS = 5_000;

@injectable()
export class StepwiseServer {
  private readonly server: Server;
  private readonly health: ModelHealth;
  private boundPort: number | undefined;
  private stopping: Promise<void> | undefined;

  constructor(
    @inject(MODEL_CATALOG) private readonly catalog: ModelCatalog,
    @inject(SERVER_LIMITS) private readonly limits: ServerLimits,
    @inject(LOGGER) private readonly logger: Logger,
    @inject(ShutdownSignal) private readonly shutdown: ShutdownSignal,
    @inject(StreamSlots) private readonly slots: StreamSlots,
    @inject(RESPONSE_ENCODER) encoder: ResponseEncoder,
    @inject(DecodeHandler) decode: DecodeHandler,
    @inject(GenerateHandler) generate: GenerateHandler,
    @inject(ModelInfoHandler) modelInfo: ModelInfoHandler,
    @inject(ListProcessorsHandler) listProcessors: ListProcessorsHandler,
    @inject(TokenizeHandler) tokenize: TokenizeHandler,
    @inject(DetokenizeHandler) detokenize: DetokenizeHandler,
    @inject(ScoreHandler) score: ScoreHandler,
    @inject(ScoreBatchHandler) scoreBatch: ScoreBatchHandler,
    @inject(ListModelsHandler) listModels: ListModelsHandler,
    @inject(TRANSPORT_SECURITY) private readonly security: TransportSecurity,
    @inject(LIFECYCLE_OPTIONS) private readonly lifecycle: LifecycleOptions,
    @inject(AccessLog) access: AccessLog,
  ) {
    this.server = new Server({
      'grpc.max_receive_message_length': limits.maxReceiveMessageBytes,
      'grpc.max_send_message_length': limits.maxSendMessageBytes,
      // Bearer tokens are checked, and the caller named, before any handler runs (`bearer-auth.ts`).
      interceptors: security.interceptors,
      ...connectionOptions(lifecycle),
    });
    // Streaming calls are refused during the drain by `StreamingCalls`; unary ones here.
    const unary = <H extends Parameters<typeof refusedWhileDraining>[0]>(handle: H): H => refusedWhileDraining(handle, shutdown, logger);
    const implementation: UntypedServiceImplementation = {
      decode: decode.handle,
      generate: generate.handle,
      getModelInfo: unary(access.unary('GetModelInfo', modelInfo.handle)),
      listProcessors: unary(access.unary('ListProcessors', listProcessors.handle)),
      tokenize: unary(access.unary('Tokenize', tokenize.handle)),
      detokenize: unary(access.unary('Detokenize', detokenize.handle)),
      score: unary(access.unary('Score', score.handle)),
      scoreBatch: unary(access.unary('ScoreBatch', scoreBatch.handle)),
      listModels: unary(access.unary('ListModels', listModels.handle)),
    };
    this.server.addService(stepwiseServerDefinition(encoder), implementation);
    this.health = new ModelHealth(catalog, logger);
    this.health.addToServer(this.server);
    createReflectionService().addToServer(this.server);
  }

  /** The port bound by `start`. */
  get port(): number {
    if (this.boundPort === undefined) throw new Error('the server is not started');
    return this.boundPort;
  }

  /** Whether health reports SERVING now (the HTTP readiness probe, `/readyz`). */
  get serving(): boolean {
    return this.health.serving;
  }

  /** Streams open now (tests and logs). */
  get openStreams(): number {
    return this.slots.active;
  }

  /** Streams waiting for a slot now (`LifecycleOptions.queueTimeoutMs`). */
  get queuedStreams(): number {
    return this.slots.queued;
  }

  /**
   * Binds the address, warms every model up (one encoder run and decoder steps each, on their own threads
   * at once), then reports SERVING. Resolves with the bound port.
   */
  async start(address: ListenAddress): Promise<number> {
    this.boundPort = await new Promise<number>((resolve, reject) => {
      this.server.bindAsync(`${address.host}:${address.port}`, this.security.credentials(), (error, port) =>
        error ? reject(error) : resolve(port),
      );
    });
    this.security.start(address.host);
    await Promise.all(this.catalog.models.map((model) => model.runtime.warmUp()));
    this.health.started();
    const { models } = this.catalog;
    const served = models.map(({ name, runtime, isDefault }) => `model "${name}" (vocab ${runtime.info.vocabSize}${models.length > 1 && isDefault ? ', default' : ''})`);
    this.logger.info(
      `stepwise serving ${served.join(', ')} on ${address.host}:${this.boundPort}; ` +
        `limits: ${this.limits.maxConcurrentStreams} streams, ${this.limits.maxInputTokens} input tokens, ${this.limits.maxNewTokens} new tokens`,
      { model: this.catalog.default.name, ...(models.length > 1 && { models: this.catalog.names }), host: address.host, port: this.boundPort, limits: this.limits },
    );
    return this.boundPort;
  }

  /**
   * Stops gracefully: NOT_SERVING and new calls refused, open streams run on for up to the drain timeout,
   * then those left end with UNAVAILABLE, then the server closes (forcibly after a grace period).
   * Idempotent; every caller gets the same promise.
   */
  stop(): Promise<void> {
    this.stopping ??= this.stopNow();
    return this.stopping;
  }

  private async stopNow(): Promise<void> {
    this.health.stopping();
    await this.delayShutdown();
    this.shutdown.beginDrain();
    this.slots.refuseWaiting(shuttingDown());
    await this.drain();
    this.shutdown.raise();
    await this.close();
  }

  /** Serves new calls for the shutdown delay, health NOT_SERVING, while load balancers take the server out. */
  private async delayShutdown(): Promise<void> {
    const { shutdownDelayMs } = this.lifecycle;
    if (shutdownDelayMs === 0) return;
    this.logger.info(`health NOT_SERVING; new calls are still served for ${inSeconds(shutdownDelayMs)} (--shutdown-delay), then refused`);
    await new Promise((resolve) => setTimeout(resolve, shutdownDelayMs));
  }

  /** Waits for the open streams to end, up to the drain timeout. */
  private async drain(): Promise<void> {
    const { drainTimeoutMs } = this.lifecycle;
    const open = this.slots.active;
    if (drainTimeoutMs === 0 || open === 0) return;
    this.logger.info(`draining: ${open} open streams may run on for up to ${inSeconds(drainTimeoutMs)} (--drain-timeout); new calls get UNAVAILABLE`);
    const began = performance.now();
    if (await this.slots.whenIdle(drainTimeoutMs)) {
      this.logger.info(`drained: the last stream ended ${Math.round(performance.now() - began)} ms after shutdown began`);
    } else {
      this.logger.warn(`drain timeout passed with ${this.slots.active} streams open; they end with UNAVAILABLE`);
    }
  }

  /** Closes the server once its calls ended, cutting those still open after the grace period. */
  private async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      const cut = setTimeout(() => {
        this.logger.warn(`calls still open ${SHUTDOWN_GRACE_MS} ms after shutdown began; closing them`);
        this.server.forceShutdown();
        resolve();
      }, SHUTDOWN_GRACE_MS);
      cut.unref();
      this.server.tryShutdown(() => {
        clearTimeout(cut);
        resolve();
      });
    });
  }
}

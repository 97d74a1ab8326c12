/**
 * The gRPC server: our service, plus the health and reflection services that attach themselves, bound to
 * one address. Nothing here decodes; the handlers do, one file per RPC.
 *
 * Health reports SERVING (for "" and `stepwise.v1.StepwiseService`) only once the model answered a
 * warm-up step, and NOT_SERVING from the moment shutdown begins. It also follows the model's status
 * (`ModelRuntime.onStatus`): NOT_SERVING from the moment the model thread stops (the cause goes to the
 * log; requests get UNAVAILABLE), SERVING again once a new thread is warmed up, unless shutdown began.
 *
 * Shutdown drains: health goes NOT_SERVING at once, and new calls (streaming and unary) are refused with
 * UNAVAILABLE, streams waiting for a slot too, at once or after the shutdown delay
 * (`LifecycleOptions.shutdownDelayMs`, time for load balancers to notice); open streams run on to their end for up to the
 * drain timeout (`LifecycleOptions.drainTimeoutMs`), then those left end with UNAVAILABLE (their decode
 * states freed), then the server closes; calls still open after the grace period are cut. A drain
 * timeout of 0 ends open streams at once.
 */
import { Server, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { inject, injectable } from 'tsyringe';
import type { ModelRuntime, ModelStatusEvent } from '../runtime/types.js';
import { LIFECYCLE_OPTIONS, LOGGER, MODEL_RUNTIME, RESPONSE_ENCODER, SERVER_LIMITS, TRANSPORT_SECURITY } from '../tokens.js';
import { AccessLog } from './access-log.js';
import { DecodeHandler } from './decode-handler.js';
import { DetokenizeHandler } from './detokenize-handler.js';
import { GenerateHandler } from './generate-handler.js';
import { connectionOptions, inSeconds, type LifecycleOptions } from './lifecycle-options.js';
import { ListProcessorsHandler } from './list-processors-handler.js';
import type { Logger } from './logger.js';
import { ModelInfoHandler } from './model-info-handler.js';
import { STEPWISE_SERVICE_NAME } from './proto-files.js';
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
  private readonly health = new HealthImplementation({ '': 'NOT_SERVING', [STEPWISE_SERVICE_NAME]: 'NOT_SERVING' });
  private boundPort: number | undefined;
  private stopping: Promise<void> | undefined;
  /** Set once `start` reported SERVING; a model back from a restart serves again only after that. */
  private started = false;
  private healthNow: 'SERVING' | 'NOT_SERVING' = 'NOT_SERVING';
  private readonly unsubscribeStatus: () => void;

  constructor(
    @inject(MODEL_RUNTIME) private readonly model: ModelRuntime,
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
    };
    this.server.addService(stepwiseServerDefinition(encoder), implementation);
    this.health.addToServer(this.server);
    createReflectionService().addToServer(this.server);
    this.unsubscribeStatus = model.onStatus((event) => this.modelStatusChanged(event));
  }

  /** The port bound by `start`. */
  get port(): number {
    if (this.boundPort === undefined) throw new Error('the server is not started');
    return this.boundPort;
  }

  /** Whether health reports SERVING now (the HTTP readiness probe, `/readyz`). */
  get serving(): boolean {
    return this.healthNow === 'SERVING';
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
   * Binds the address, warms the model up (one encoder run and decoder steps), then reports SERVING.
   * Resolves with the bound port.
   */
  async start(address: ListenAddress): Promise<number> {
    this.boundPort = await new Promise<number>((resolve, reject) => {
      this.server.bindAsync(`${address.host}:${address.port}`, this.security.credentials(), (error, port) =>
        error ? reject(error) : resolve(port),
      );
    });
    this.security.start(address.host);
    await this.model.warmUp();
    this.started = true;
    if (this.stopping === undefined && this.model.status === 'ready') this.setHealth('SERVING');
    this.logger.info(
      `stepwise serving model "${this.model.info.name}" (vocab ${this.model.info.vocabSize}) on ${address.host}:${this.boundPort}; ` +
        `limits: ${this.limits.maxConcurrentStreams} streams, ${this.limits.maxInputTokens} input tokens, ${this.limits.maxNewTokens} new tokens`,
      { model: this.model.info.name, host: address.host, port: this.boundPort, limits: this.limits },
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
    this.unsubscribeStatus();
    this.setHealth('NOT_SERVING');
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

  private setHealth(status: 'SERVING' | 'NOT_SERVING'): void {
    this.healthNow = status;
    this.health.setStatus('', status);
    this.health.setStatus(STEPWISE_SERVICE_NAME, status);
  }

  /** Health and the log follow the model's thread: stopped, restart attempts, back, or given up. */
  private modelStatusChanged(event: ModelStatusEvent): void {
    const model = `model "${this.model.info.name}"`;
    if (event.status === 'ready') {
      this.logger.info(`${model}: its thread was restarted and warmed up (attempt ${event.attempt}); serving again`);
      if (this.started && this.stopping === undefined) this.setHealth('SERVING');
      return;
    }
    this.setHealth('NOT_SERVING');
    if (event.status === 'failed') {
      const after = event.attempt === 0 ? 'its thread stopped and restarts are off' : `its thread could not be restarted (${event.attempt} attempts)`;
      this.logger.error(`${model}: ${after}; health stays NOT_SERVING and requests get UNAVAILABLE`, event.cause);
    } else if (event.attempt === 0) {
      this.logger.error(`${model}: its thread stopped; health is NOT_SERVING and requests get UNAVAILABLE while it restarts`, event.cause);
    } else {
      this.logger.warn(`${model}: restart attempt ${event.attempt} failed (${event.cause?.message ?? 'no reason given'}); trying again`);
    }
  }
}

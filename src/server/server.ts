/**
 * The gRPC server: our service, plus the health and reflection services that attach themselves, bound to
 * one address. Nothing here decodes; the handlers do, one file per RPC.
 *
 * Health reports SERVING (for "" and `stepwise.v1.StepwiseService`) only once the model answered a
 * warm-up step, and NOT_SERVING from the moment shutdown begins. It also follows the model's status
 * (`ModelRuntime.onStatus`): NOT_SERVING from the moment the model thread stops (the cause goes to the
 * log; requests get UNAVAILABLE), SERVING again once a new thread is warmed up, unless shutdown began.
 *
 * Shutdown is graceful: new calls are refused, open streams end with UNAVAILABLE (their decode states
 * freed), then the server closes; calls still open after the grace period are cut.
 */
import { Server, ServerCredentials, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { inject, injectable } from 'tsyringe';
import type { ModelRuntime, ModelStatusEvent } from '../runtime/types.js';
import { LOGGER, MODEL_RUNTIME, RESPONSE_ENCODER, SERVER_LIMITS } from '../tokens.js';
import { AccessLog } from './access-log.js';
import { DecodeHandler } from './decode-handler.js';
import { DetokenizeHandler } from './detokenize-handler.js';
import { GenerateHandler } from './generate-handler.js';
import { ListProcessorsHandler } from './list-processors-handler.js';
import type { Logger } from './logger.js';
import { ModelInfoHandler } from './model-info-handler.js';
import { STEPWISE_SERVICE_NAME } from './proto-files.js';
import { createReflectionService } from './reflection.js';
import type { ServerLimits } from './server-limits.js';
import type { ResponseEncoder } from './response-encoder.js';
import { stepwiseServerDefinition } from './service-definition.js';
import { ShutdownSignal } from './shutdown-signal.js';
import { StreamSlots } from './stream-slots.js';
import { TokenizeHandler } from './tokenize-handler.js';

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
    @inject(AccessLog) access: AccessLog,
  ) {
    this.server = new Server({
      'grpc.max_receive_message_length': limits.maxReceiveMessageBytes,
      'grpc.max_send_message_length': limits.maxSendMessageBytes,
    });
    const implementation: UntypedServiceImplementation = {
      decode: decode.handle,
      generate: generate.handle,
      getModelInfo: access.unary('GetModelInfo', modelInfo.handle),
      listProcessors: access.unary('ListProcessors', listProcessors.handle),
      tokenize: access.unary('Tokenize', tokenize.handle),
      detokenize: access.unary('Detokenize', detokenize.handle),
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

  /**
   * Binds the address, warms the model up (one encoder run and decoder steps), then reports SERVING.
   * Resolves with the bound port.
   */
  async start(address: ListenAddress): Promise<number> {
    this.boundPort = await new Promise<number>((resolve, reject) => {
      this.server.bindAsync(`${address.host}:${address.port}`, ServerCredentials.createInsecure(), (error, port) =>
        error ? reject(error) : resolve(port),
      );
    });
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
   * Stops gracefully: NOT_SERVING, open streams end with UNAVAILABLE, then the server closes (forcibly
   * after a grace period). Idempotent; every caller gets the same promise.
   */
  stop(): Promise<void> {
    this.stopping ??= this.stopNow();
    return this.stopping;
  }

  private async stopNow(): Promise<void> {
    this.unsubscribeStatus();
    this.setHealth('NOT_SERVING');
    this.shutdown.raise();
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

/**
 * What gRPC health reports, for the server and for each model it hosts:
 *
 * - `stepwise.v1.StepwiseService/NAME`, one per model: SERVING once the server started (every model warmed
 *   up) and while that model's thread is ready; NOT_SERVING from the moment its thread stops (the cause goes
 *   to the log; its requests get UNAVAILABLE) until a new thread is warmed up, and from the moment shutdown
 *   begins. One model's restart leaves the others' names SERVING.
 * - "" and `stepwise.v1.StepwiseService`, the whole server: SERVING when every model's name is.
 *
 * A status is set only when it changes, so a `Watch` sees each change once (not each failed restart attempt).
 *
 * ```ts
 * const health = new ModelHealth(catalog, logger);
 * health.addToServer(server);
 * // once every model answered its warm-up:
 * health.started();
 * health.stopping();   // at shutdown: everything NOT_SERVING, model events no longer followed
 * ```
 */
import type { Server } from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import type { ModelStatusEvent } from '../runtime/types.js';
import type { Logger } from './logger.js';
import type { CatalogModel, ModelCatalog } from './model-catalog.js';
import { STEPWISE_SERVICE_NAME } from './proto-files.js';

type Status = 'SERVING' | 'NOT_SERVING';

/** The health service name of one model. */
export function modelHealthName(model: string): string {
  return `${STEPWISE_SERVICE_NAME}/${model}`;
}

export class ModelHealth {
  private readonly health: HealthImplementation;
  private readonly now = new Map<string, Status>();
  /** Each model's thread: ready or not, as its last status event said. */
  private readonly ready = new Map<CatalogModel, boolean>();
  private readonly unsubscribe: (() => void)[];
  private hasStarted = false;
  private isStopping = false;

  constructor(
    private readonly catalog: ModelCatalog,
    private readonly logger: Logger,
  ) {
    const names = ['', STEPWISE_SERVICE_NAME, ...catalog.names.map(modelHealthName)];
    for (const name of names) this.now.set(name, 'NOT_SERVING');
    this.health = new HealthImplementation(Object.fromEntries(this.now));
    for (const model of catalog.models) this.ready.set(model, model.runtime.status === 'ready');
    this.unsubscribe = catalog.models.map((model) => model.runtime.onStatus((event) => this.statusChanged(model, event)));
  }

  addToServer(server: Server): void {
    this.health.addToServer(server);
  }

  /** Whether the whole server reports SERVING now (the HTTP readiness probe, `/readyz`). */
  get serving(): boolean {
    return this.now.get('') === 'SERVING';
  }

  /** Every model answered its warm-up: the ready ones serve. */
  started(): void {
    this.hasStarted = true;
    this.refresh();
  }

  /** Shutdown began: NOT_SERVING everywhere, for good. */
  stopping(): void {
    this.isStopping = true;
    for (const unsubscribe of this.unsubscribe) unsubscribe();
    this.refresh();
  }

  private refresh(): void {
    let all = true;
    for (const model of this.catalog.models) {
      const serving = this.hasStarted && !this.isStopping && this.ready.get(model) === true;
      this.set(modelHealthName(model.name), serving ? 'SERVING' : 'NOT_SERVING');
      all &&= serving;
    }
    this.set('', all ? 'SERVING' : 'NOT_SERVING');
    this.set(STEPWISE_SERVICE_NAME, all ? 'SERVING' : 'NOT_SERVING');
  }

  private set(name: string, status: Status): void {
    if (this.now.get(name) === status) return;
    this.now.set(name, status);
    this.health.setStatus(name, status);
  }

  /** Health and the log follow each model's thread: stopped, restart attempts, back, or given up. */
  private statusChanged(model: CatalogModel, event: ModelStatusEvent): void {
    this.ready.set(model, event.status === 'ready');
    this.refresh();
    const name = `model "${model.name}"`;
    if (event.status === 'ready') {
      this.logger.info(`${name}: its thread was restarted and warmed up (attempt ${event.attempt}); serving again`);
    } else if (event.status === 'failed') {
      const after = event.attempt === 0 ? 'its thread stopped and restarts are off' : `its thread could not be restarted (${event.attempt} attempts)`;
      this.logger.error(`${name}: ${after}; health stays NOT_SERVING and requests get UNAVAILABLE`, event.cause);
    } else if (event.attempt === 0) {
      this.logger.error(`${name}: its thread stopped; health is NOT_SERVING and requests get UNAVAILABLE while it restarts`, event.cause);
    } else {
      this.logger.warn(`${name}: restart attempt ${event.attempt} failed (${event.cause?.message ?? 'no reason given'}); trying again`);
    }
  }
}

/**
 * The model on its own thread: `loadWorkerModel` returns a `ModelRuntime` whose decoder runs never block
 * the caller's event loop. See `worker-model.ts` for a usage example.
 */
export { loadWorkerModel, WORKER_LOAD_DEFAULTS, WorkerModel } from './worker-model.js';
export type { ThreadMemoryUsage } from './worker-protocol.js';

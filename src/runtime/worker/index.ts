/**
 * The model on its own thread: `loadWorkerModel` returns a `ModelRuntime` whose decoder runs never block
 * the caller's event loop. See `worker-model.ts` for a usage example.
 */
export { DEFAULT_RESTART, DEFAULT_THREAD_NICE, loadWorkerModel, WORKER_LOAD_DEFAULTS, WorkerModel, type WorkerModelOptions } from './worker-model.js';
export type { RunAheadStats, ThreadMemoryUsage } from './worker-protocol.js';

/**
 * Entry of the model thread that a `WorkerModel` starts: loads the model folder named in `workerData`,
 * reports `ready` (or `load-failed`), then serves the main thread's requests. ONNX Runtime's `run()`
 * blocks the thread that calls it; here that is this thread, never the one serving gRPC.
 */
import { getPriority, setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';

import { loadModel } from '../load-model.js';
import { ModelHost } from './model-host.js';
import { type ModelThreadData, type ThreadReply, type ThreadRequest, serializeError } from './worker-protocol.js';

const port = parentPort;
if (port === null) throw new Error('model-thread.ts runs only as a worker thread started by WorkerModel');

const post = (reply: ThreadReply, transfer: ArrayBuffer[] = []) => port.postMessage(reply, transfer);
const { dir, options, runAhead, threadNice } = workerData as ModelThreadData;

try {
  lowerPriority(threadNice);
  const model = await loadModel(dir, options);
  const host = new ModelHost(model, post, { runAhead });
  port.on('message', (request: ThreadRequest) => host.handle(request));
  post({ kind: 'ready', info: model.info });
} catch (error) {
  post({ kind: 'load-failed', error: serializeError(error) });
}

/**
 * Adds `nice` to this thread's nice value before ONNX Runtime starts its own threads, which inherit it.
 * On Linux the value is per thread (pid 0 names the calling one), so the serving thread keeps its own;
 * elsewhere it would apply to the whole process, so nothing is changed. A system that refuses (a
 * sandbox without the call) leaves the priority as it was: the threads work the same, only less politely.
 */
function lowerPriority(nice: number): void {
  if (nice === 0 || process.platform !== 'linux') return;
  try {
    setPriority(0, Math.min(19, getPriority(0) + nice));
  } catch {
    // Not allowed here: keep the inherited priority.
  }
}

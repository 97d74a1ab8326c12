/**
 * Entry of the model thread that a `WorkerModel` starts: loads the model folder named in `workerData`,
 * reports `ready` (or `load-failed`), then serves the main thread's requests. ONNX Runtime's `run()`
 * blocks the thread that calls it; here that is this thread, never the one serving gRPC.
 */
import { parentPort, workerData } from 'node:worker_threads';

import { loadModel } from '../load-model.js';
import { ModelHost } from './model-host.js';
import { type ModelThreadData, type ThreadReply, type ThreadRequest, serializeError } from './worker-protocol.js';

const port = parentPort;
if (port === null) throw new Error('model-thread.ts runs only as a worker thread started by WorkerModel');

const post = (reply: ThreadReply, transfer: ArrayBuffer[] = []) => port.postMessage(reply, transfer);
const { dir, options } = workerData as ModelThreadData;

try {
  const model = await loadModel(dir, options);
  const host = new ModelHost(model, post);
  port.on('message', (request: ThreadRequest) => host.handle(request));
  post({
    kind: 'ready',
    info: {
      name: model.name,
      dtype: model.dtype,
      decoderLayout: model.decoderLayout,
      config: model.config,
      generation: model.generation,
      specialIds: model.specialIds,
      maxInputLength: model.maxInputLength,
    },
  });
} catch (error) {
  post({ kind: 'load-failed', error: serializeError(error) });
}

/**
 * The main thread's end of a model thread: starts the worker, matches replies to requests, and turns a
 * thread that dies into a rejection of everything still waiting (never a hang), with
 * `ModelUnavailableError`, and a call of the `onDeath` listener (a deliberate `close` is no death).
 *
 * The worker is referenced only while a request waits for its reply, so an idle model does not keep
 * the process alive (as an in-process ONNX session does not).
 */
import type { Worker } from 'node:worker_threads';

import { ModelUnavailableError, StateError } from '../errors.js';
import type { ModelInfo } from '../types.js';
import { startModuleWorker } from './module-worker.js';
import {
  type ModelThreadData,
  type ThreadReply,
  type ThreadRequest,
  restoreError,
} from './worker-protocol.js';

/** A request without its id; the channel numbers it. */
export type ThreadCall = ThreadRequest extends infer R ? (R extends { requestId: number } ? Omit<R, 'requestId'> : never) : never;

type Answer = Extract<ThreadReply, { requestId: number }>;

/** How a thread died on its own. */
export interface ThreadDeath {
  /** What happened, e.g. "it exited with code 1". */
  readonly detail: string;
  /** What the requests waiting at that moment were rejected with. */
  readonly error: ModelUnavailableError;
}

interface Waiting {
  readonly resolve: (reply: Answer) => void;
  readonly reject: (error: Error) => void;
}

export class ThreadChannel {
  private readonly waiting = new Map<number, Waiting>();
  private nextRequestId = 1;
  /** Set once the thread has died or was closed; every later request fails with it. */
  private failure: Error | undefined;
  /** Set when the thread died on its own (not closed); what `onDeath` reports. */
  private death: ThreadDeath | undefined;
  private deathListener: ((death: ThreadDeath) => void) | undefined;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (reply: ThreadReply) => this.receive(reply));
    worker.on('error', (error) => this.die(`it threw ${error.name}: ${error.message}`, error));
    worker.on('exit', (code) => this.die(`it exited with code ${code}`));
  }

  /** Starts a model thread on `data.dir` and resolves when its model is loaded. */
  static async open(data: ModelThreadData): Promise<{ channel: ThreadChannel; info: ModelInfo }> {
    const worker = startWorker(data);
    let onMessage: (reply: ThreadReply) => void = () => {};
    let onError: (error: Error) => void = () => {};
    let onExit: (code: number) => void = () => {};
    try {
      const info = await new Promise<ModelInfo>((resolve, reject) => {
        onMessage = (reply) => {
          if (reply.kind === 'ready') resolve(reply.info);
          else if (reply.kind === 'load-failed') reject(restoreError(reply.error));
          else reject(new Error(`the model thread answered ${reply.kind} before it was ready`));
        };
        onError = reject;
        onExit = (code) => reject(new Error(`the model thread exited (code ${code}) while loading ${data.dir}`));
        worker.on('message', onMessage).on('error', onError).on('exit', onExit);
      });
      // Only this start-up's listeners go: removing all of a Worker's listeners breaks its message port.
      worker.off('message', onMessage).off('error', onError).off('exit', onExit);
      worker.unref();
      return { channel: new ThreadChannel(worker), info };
    } catch (error) {
      await worker.terminate();
      throw error;
    }
  }

  /** Sends a request and resolves with its reply (`failed` replies included: the caller decides). */
  request(call: ThreadCall): Promise<Answer> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const requestId = this.nextRequestId++;
    return new Promise<Answer>((resolve, reject) => {
      this.waiting.set(requestId, { resolve, reject });
      if (this.waiting.size === 1) this.worker.ref();
      this.worker.postMessage({ ...call, requestId });
    });
  }

  /** Sends a request that has no reply (state creation and disposal, releases). */
  post(request: Exclude<ThreadRequest, { requestId: number }>): void {
    if (this.failure === undefined) this.worker.postMessage(request);
  }

  async close(): Promise<void> {
    this.failure ??= new StateError('the model thread was closed');
    await this.worker.terminate();
  }

  /**
   * Calls `listener` once if the thread dies on its own (a crash, `kill`), after every waiting request
   * was rejected; at once (next microtask) when it already has. One listener; a later call replaces it.
   */
  onDeath(listener: (death: ThreadDeath) => void): void {
    const death = this.death;
    if (death === undefined) this.deathListener = listener;
    else queueMicrotask(() => listener(death));
  }

  /**
   * Ends the thread as a crash would (for tests and drills): waiting requests reject and `onDeath` is
   * called, both before this resolves. The thread ends itself (exit code 1) once the requests sent
   * before are done: `Worker.terminate` during a decoder run aborts the whole process.
   */
  async kill(): Promise<void> {
    if (this.failure !== undefined) return;
    // Listeners run in the order they were added: the channel's own 'exit' handler comes first.
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.ref();
    this.worker.postMessage({ kind: 'exit', code: 1 } satisfies ThreadRequest);
    await exited;
  }

  private receive(reply: ThreadReply): void {
    if (reply.kind === 'unexpected') {
      process.emitWarning(`the model thread failed a request: ${reply.error.name}: ${reply.error.message}`);
      return;
    }
    if (!('requestId' in reply)) return;
    const waiting = this.waiting.get(reply.requestId);
    if (waiting === undefined) return;
    this.waiting.delete(reply.requestId);
    if (this.waiting.size === 0) this.worker.unref();
    waiting.resolve(reply);
  }

  /** The thread is gone: after `close`, quietly; otherwise it died, which the listener hears of. */
  private die(detail: string, cause?: Error): void {
    if (this.failure === undefined) {
      this.death = { detail, error: ModelUnavailableError.threadStopped(detail, cause) };
      this.failure = this.death.error;
    }
    for (const waiting of this.waiting.values()) waiting.reject(this.failure);
    this.waiting.clear();
    const death = this.death;
    if (death !== undefined && this.deathListener !== undefined) {
      const listener = this.deathListener;
      // Once: an 'error' event is followed by 'exit'.
      this.deathListener = undefined;
      listener(death);
    }
  }
}

/** Starts the worker on `model-thread` beside this module (see `module-worker.ts`). */
function startWorker(data: ModelThreadData): Worker {
  return startModuleWorker('model-thread', import.meta.url, { workerData: data, stdout: false, stderr: false });
}

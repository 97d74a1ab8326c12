/**
 * A baseline contender (the bare floor loop or transformers.js) on a worker thread of its own.
 *
 * Both allocate every step's output tensors in JavaScript, whose garbage collections walk the heap of the
 * thread they run on. On the benchmark's main thread that heap also holds the tokenizer, the other
 * contenders and the report, and the same floor loop ran slower there than on a thread holding nothing but
 * itself (figures and the likely cause: bench/README.md). A bare loop runs in a process of its own; a
 * thread of its own gives it that small heap. Times are taken inside the thread.
 */
import type { Worker } from 'node:worker_threads';

import type { InferenceSession } from 'onnxruntime-node';

import { startModuleWorker } from '../src/runtime/index.js';
import type { FloorRun } from './floor-loop.js';

export type ContenderKind = 'floor' | 'transformers-js';

export interface ContenderThreadData {
  readonly kind: ContenderKind;
  readonly dir: string;
  readonly sessionOptions: InferenceSession.SessionOptions;
}

export type ContenderRequest =
  | { readonly kind: 'generate'; readonly prompts: readonly (readonly number[])[]; readonly newTokens: number }
  | { readonly kind: 'release' };

export type ContenderReply =
  | { readonly kind: 'ready' }
  | { readonly kind: 'generated'; readonly run: FloorRun }
  | { readonly kind: 'released' }
  | { readonly kind: 'failed'; readonly message: string };

export class ContenderThread {
  private constructor(private readonly worker: Worker) {}

  static async open(data: ContenderThreadData): Promise<ContenderThread> {
    const thread = new ContenderThread(startWorker(data));
    await thread.next();
    return thread;
  }

  /**
   * The floor: every prompt as one static batch. transformers.js: one prompt (`generate()` of one
   * sequence, as the benchmark compares it).
   */
  async generate(prompts: readonly (readonly number[])[], newTokens: number): Promise<FloorRun> {
    const reply = await this.ask({ kind: 'generate', prompts, newTokens });
    if (reply.kind !== 'generated') throw new Error(`a contender thread answered ${reply.kind} to generate`);
    return reply.run;
  }

  async release(): Promise<void> {
    await this.ask({ kind: 'release' });
    await this.worker.terminate();
  }

  private ask(request: ContenderRequest): Promise<ContenderReply> {
    const reply = this.next();
    this.worker.postMessage(request);
    return reply;
  }

  /** The thread's next reply; rejects on a `failed` reply or when the thread dies first. */
  private next(): Promise<ContenderReply> {
    return new Promise((resolve, reject) => {
      const onMessage = (reply: ContenderReply) => {
        this.worker.off('error', onError);
        if (reply.kind === 'failed') reject(new Error(`contender thread: ${reply.message}`));
        else resolve(reply);
      };
      const onError = (error: Error) => {
        this.worker.off('message', onMessage);
        reject(error);
      };
      this.worker.once('message', onMessage);
      this.worker.once('error', onError);
    });
  }
}

function startWorker(data: ContenderThreadData): Worker {
  return startModuleWorker('contender-thread-entry', import.meta.url, { workerData: data });
}

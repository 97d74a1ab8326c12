/**
 * The worker side of `ContenderThread`: loads one baseline contender and runs what the main thread asks,
 * one request at a time. It imports nothing else, so its heap holds only the contender.
 */
import { parentPort, workerData } from 'node:worker_threads';

import type { ContenderReply, ContenderRequest, ContenderThreadData } from './contender-thread.js';
import { FloorLoop } from './floor-loop.js';
import { TransformersJsRunner } from './transformers-js-runner.js';

const port = parentPort!;
const { kind, dir, sessionOptions } = workerData as ContenderThreadData;
const post = (reply: ContenderReply) => port.postMessage(reply);
const failed = (error: unknown) => post({ kind: 'failed', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });

try {
  const contender = kind === 'floor' ? await FloorLoop.open(dir, sessionOptions) : await TransformersJsRunner.open(dir, sessionOptions);
  port.on('message', (request: ContenderRequest) => {
    void answer(contender, request).then(post, failed);
  });
  post({ kind: 'ready' });
} catch (error) {
  failed(error);
}

async function answer(contender: FloorLoop | TransformersJsRunner, request: ContenderRequest): Promise<ContenderReply> {
  if (request.kind === 'release') {
    await (contender instanceof FloorLoop ? contender.release() : contender.dispose());
    return { kind: 'released' };
  }
  if (contender instanceof FloorLoop) return { kind: 'generated', run: await contender.generate(request.prompts, request.newTokens) };
  if (request.prompts.length !== 1) throw new Error('transformers.js runs one prompt per generate() here');
  return { kind: 'generated', run: await contender.generate(request.prompts[0]!, request.newTokens) };
}

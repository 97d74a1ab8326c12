/**
 * transformers.js `generate()` on the benchmark's model folder: the library most Node users would reach
 * for, reading the same ONNX files. Greedy, with `min_new_tokens` = `max_new_tokens` so that every
 * sequence runs to full length, as every other contender does.
 */
import { basename, dirname } from 'node:path';

import { AutoModelForSeq2SeqLM, env, type PreTrainedModel, Tensor } from '@huggingface/transformers';
import type { InferenceSession } from 'onnxruntime-node';

import type { FloorRun } from './floor-loop.js';

export class TransformersJsRunner {
  private constructor(private readonly model: PreTrainedModel) {}

  /** Loads the folder with the given ONNX Runtime session options (the same as the other contenders'). */
  static async open(dir: string, sessionOptions: InferenceSession.SessionOptions): Promise<TransformersJsRunner> {
    // transformers.js reads local folders only: nothing is fetched from a hub.
    env.allowRemoteModels = false;
    env.localModelPath = dirname(dir);
    const model = await AutoModelForSeq2SeqLM.from_pretrained(basename(dir), {
      dtype: 'fp32',
      session_options: sessionOptions as Record<string, unknown>,
    });
    return new TransformersJsRunner(model);
  }

  /** Generates `newTokens` tokens for one prompt. */
  async generate(prompt: readonly number[], newTokens: number): Promise<FloorRun> {
    const inputIds = new Tensor('int64', BigInt64Array.from(prompt, BigInt), [1, prompt.length]);
    const attentionMask = new Tensor('int64', new BigInt64Array(prompt.length).fill(1n), [1, prompt.length]);
    const started = performance.now();
    const output = (await this.model.generate({
      input_ids: inputIds,
      attention_mask: attentionMask,
      max_new_tokens: newTokens,
      min_new_tokens: newTokens,
      do_sample: false,
    } as Record<string, unknown>)) as Tensor;
    const ms = performance.now() - started;
    const ids = (output.tolist() as bigint[][])[0]!.map(Number).slice(1);
    return { tokens: [ids], ms };
  }

  async dispose(): Promise<void> {
    await this.model.dispose();
  }
}

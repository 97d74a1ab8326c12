/**
 * Runs `encoder_model.onnx` over a batch of id sequences of any lengths: shorter sequences are padded
 * with the pad id and masked (`attention_mask` 0), so each sequence's hidden states equal those of
 * running it alone. Each sequence then gets a view of its own unpadded rows, without a copy: the output
 * is `[B, S_max, d_model]`, so sequence b's first `S_b` rows are contiguous.
 */
import { type InferenceSession, Tensor } from 'onnxruntime-node';

export interface EncodedRows {
  /** Per sequence: its hidden states, `[1, S_b, d_model]`, a view of the batch output. */
  readonly hiddenStates: Tensor[];
  /** Wall time of the encoder run, in milliseconds. */
  readonly encodeMs: number;
}

export class EncoderRunner {
  constructor(
    private readonly session: InferenceSession,
    private readonly dModel: number,
    private readonly padTokenId: number,
  ) {}

  async run(inputs: readonly (readonly number[])[]): Promise<EncodedRows> {
    const batchSize = inputs.length;
    const maxLength = Math.max(...inputs.map((ids) => ids.length));
    const inputIds = new BigInt64Array(batchSize * maxLength).fill(BigInt(this.padTokenId));
    const attentionMask = new BigInt64Array(batchSize * maxLength);
    inputs.forEach((ids, row) => {
      for (let i = 0; i < ids.length; i++) {
        inputIds[row * maxLength + i] = BigInt(ids[i]!);
        attentionMask[row * maxLength + i] = 1n;
      }
    });
    const started = performance.now();
    const outputs = await this.session.run({
      input_ids: new Tensor('int64', inputIds, [batchSize, maxLength]),
      attention_mask: new Tensor('int64', attentionMask, [batchSize, maxLength]),
    });
    const encodeMs = performance.now() - started;
    const batch = outputs.last_hidden_state as Tensor;
    // Float32Array, or Uint16Array for a file whose outputs are float16 (see float-tensors.ts).
    const data = batch.data as Float32Array;
    const rowStride = maxLength * this.dModel;
    const hiddenStates = inputs.map((ids, row) =>
      batchSize === 1
        ? batch
        : new Tensor(batch.type as 'float32', data.subarray(row * rowStride, row * rowStride + ids.length * this.dModel), [
            1,
            ids.length,
            this.dModel,
          ]),
    );
    return { hiddenStates, encodeMs };
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

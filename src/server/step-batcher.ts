/**
 * Runs the decoder for many streams at once. Each stream asks for its next logits row with `step(state)`;
 * the requests that arrive while the event loop is busy (typically while the previous batch runs) are
 * handed to the runtime together, which batches the states that share a decoder position. A stream is
 * never held back waiting for others: a batch starts on the next turn of the event loop.
 *
 * A failing batch is retried one state at a time, so an error belongs to the stream that caused it and the
 * other streams of the batch go on.
 */
import { inject, injectable } from 'tsyringe';
import type { DecodeState, ModelRuntime } from '../runtime/types.js';
import { MODEL_RUNTIME } from '../tokens.js';

interface PendingStep {
  readonly state: DecodeState;
  readonly resolve: (row: Float32Array) => void;
  readonly reject: (error: unknown) => void;
}

@injectable()
export class StepBatcher {
  private pending: PendingStep[] = [];
  private scheduled = false;

  constructor(@inject(MODEL_RUNTIME) private readonly model: Pick<ModelRuntime, 'step'>) {}

  /** The logits row after `state`'s last token (a view valid until the state's next step). */
  step(state: DecodeState): Promise<Float32Array> {
    return new Promise((resolve, reject) => {
      this.pending.push({ state, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.runBatch());
      }
    });
  }

  private async runBatch(): Promise<void> {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = [];
    try {
      const rows = await this.model.step(batch.map((entry) => entry.state));
      batch.forEach((entry, i) => entry.resolve(rows[i]!));
    } catch (error) {
      if (batch.length === 1) {
        batch[0]!.reject(error);
        return;
      }
      for (const entry of batch) {
        try {
          const [row] = await this.model.step([entry.state]);
          entry.resolve(row!);
        } catch (own) {
          entry.reject(own);
        }
      }
    }
  }
}

/**
 * What beam search selects from, per live beam: Hugging Face's `log_softmax` of the raw row, then the
 * stream's pipeline run on those log-probabilities with the beam's own history (as `_beam_search` calls its
 * `logits_processor` on `log_probs`). The raw row stays untouched; the result goes to the caller's row.
 *
 * Usage:
 * ```ts
 * const logProbs = BeamLogProbs.build({ registry, context, specs, fields });   // refusals name their field
 * logProbs.compute(raw, beam.history, step, out);                            // out: vocabSize floats
 * ```
 */
import { namingField } from '../errors.js';
import { Pipeline, type ProcessorLookup } from '../pipeline.js';
import { finiteMaximum } from '../selection/finite.js';
import type { ProcessorSpec, StaticContext } from '../types.js';

export interface BeamLogProbsParts {
  readonly registry: ProcessorLookup;
  readonly context: StaticContext;
  readonly specs: readonly ProcessorSpec[];
  /** `fields[i]` names the request field spec i came from, for errors. */
  readonly fields: readonly string[];
}

export class BeamLogProbs {
  private constructor(readonly pipeline: Pipeline) {}

  /** Builds the pipeline; a refused spec throws `RequestFieldError` naming its field. */
  static build({ registry, context, specs, fields }: BeamLogProbsParts): BeamLogProbs {
    const pipeline = namingField(
      () => Pipeline.build(registry, specs, context),
      (error) => {
        const index = specs.findIndex((spec) => 'processor' in error && error.processor === spec.name);
        return index === -1 ? 'processors' : fields[index]!;
      },
    );
    return new BeamLogProbs(pipeline);
  }

  /** `out` = the pipeline applied to `log_softmax(raw)` for a beam whose history is `history`. */
  compute(raw: Float32Array, history: readonly number[], step: number, out: Float32Array): void {
    logSoftmax(raw, out);
    this.pipeline.run(out, { history, step });
  }
}

/**
 * `out[i] = raw[i] - max - log Σ exp(raw - max)`, in float64 rounded to float32 (PyTorch computes it in
 * float32). A row with no finite value gives -inf everywhere.
 */
export function logSoftmax(raw: Float32Array, out: Float32Array): void {
  const max = finiteMaximum(raw);
  if (max === -Infinity) {
    out.fill(-Infinity);
    return;
  }
  let sum = 0;
  for (let i = 0; i < raw.length; i++) {
    const value = raw[i]!;
    if (value > -Infinity && value < Infinity) sum += Math.exp(value - max);
  }
  const shift = max + Math.log(sum);
  for (let i = 0; i < raw.length; i++) out[i] = raw[i]! - shift;
}

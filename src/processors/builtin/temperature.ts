/**
 * `temperature`: Hugging Face `TemperatureLogitsWarper`.
 */
import { defineProcessor } from '../define-processor.js';
import type { LogitsProcessor } from '../types.js';

/**
 * Divides every score (-inf included) by T, rounded to float32 first as PyTorch does; T < 1 sharpens the
 * distribution, T > 1 flattens it. Order-preserving, so greedy selection may skip it.
 */
export class TemperatureProcessor implements LogitsProcessor {
  readonly name = 'temperature';
  private readonly temperature: number;

  constructor(temperature: number) {
    this.temperature = Math.fround(temperature);
  }

  apply(row: Float32Array): void {
    const temperature = this.temperature;
    for (let i = 0; i < row.length; i++) row[i] = row[i]! / temperature;
  }

  isArgmaxInvariant(): boolean {
    return true;
  }
}

export const temperature = defineProcessor({
  name: 'temperature',
  description: 'Divides every score by the temperature (Hugging Face TemperatureLogitsWarper).',
  parameters: {
    temperature: {
      type: 'float',
      description: 'The temperature; < 1 sharpens the distribution, > 1 flattens it.',
      required: true,
      min: { value: 0, inclusive: false },
      boundReason: 'for greedy decoding select greedily instead of asking for temperature 0',
    },
  },
  create: (params) => new TemperatureProcessor(params.temperature),
});

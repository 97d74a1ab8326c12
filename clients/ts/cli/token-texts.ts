/** Vocabulary texts of token ids, asked from the server's tokenizer once per id and kept. */
import type { StepwiseClient } from '../stepwise-client.js';

export class TokenTexts {
  private readonly known = new Map<number, string>();

  /** `model`: whose tokenizer (one of the server's models; undefined: its default). */
  constructor(
    private readonly client: StepwiseClient,
    private readonly model?: string,
  ) {}

  /** Makes sure the texts of `ids` are known (one `Detokenize` call per id not seen before). */
  async load(ids: readonly number[], signal?: AbortSignal): Promise<void> {
    const missing = [...new Set(ids)].filter((id) => !this.known.has(id));
    const texts = await Promise.all(missing.map((id) => this.client.detokenize([id], false, { signal, model: this.model })));
    missing.forEach((id, index) => this.known.set(id, texts[index]!));
  }

  /** The text of a loaded id. */
  textOf(id: number): string {
    const text = this.known.get(id);
    if (text === undefined) throw new Error(`token ${id} was not loaded`);
    return text;
  }
}

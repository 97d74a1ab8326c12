/**
 * The tiny test models the agreement tests run on (built by the project's builder in the global test
 * setup): every combination of feed-forward (relu, gated-gelu) and embedding tying, plus one whose
 * logits are wider than its tokenizer.
 */
import { tinyModels, tinyModelVariants } from '../../fixtures/models.js';

export interface ModelVariant {
  readonly name: string;
  readonly dir: string;
}

export const modelVariants: readonly ModelVariant[] = tinyModelVariants.map(({ label, dir }) => ({ name: `tiny ${label}`, dir }));

/** `vocab_size` rounded up past the tokenizer's size, like t5-small's 32128 logits for 32100 ids. */
export const paddedVariant: ModelVariant = { name: 'tiny padded vocabulary', dir: tinyModels.padded };

/**
 * The `min_tokens_to_keep` parameter shared by the filtering warpers (Hugging Face passes 1 when
 * `num_beams == 1`, which is the only mode Stepwise has).
 */
export const minTokensToKeep = {
  type: 'int',
  description: 'The filter always keeps at least this many of the highest-scoring tokens (ties at the last one included).',
  default: 1,
  min: { value: 1, inclusive: true },
} as const;

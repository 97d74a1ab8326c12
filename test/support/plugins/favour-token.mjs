/**
 * A processor plugin used by the server tests: `favour_token` adds `bias` to one token's score at every
 * step. Loaded with `--plugin` (here: `startTestServer({ plugins: [...] })`), used by name like a built-in.
 */
export function register(api) {
  api.registerProcessor(
    api.defineProcessor({
      name: 'favour_token',
      description: 'Adds `bias` to the score of `token_id` at every step.',
      parameters: {
        token_id: { type: 'int', description: 'The favoured token.', required: true, tokenIds: true },
        bias: { type: 'float', description: 'Added to its score.', required: true },
      },
      create: (params) => ({
        name: 'favour_token',
        apply(row) {
          row[params.token_id] += params.bias;
        },
        isArgmaxInvariant: () => false,
      }),
    }),
  );
}

/**
 * The limits the server enforces, each explained where it is declared. They are plain data: the CLI fills
 * them from flags, tests pass small values, `GetModelInfo` reports them.
 */
export interface ServerLimits {
  /**
   * Most `Decode` + `Generate` streams open at once. Each holds a KV cache and a working copy of the logits
   * row, so this bounds memory; a stream beyond it is refused with RESOURCE_EXHAUSTED (after waiting for
   * a slot up to `LifecycleOptions.queueTimeoutMs`).
   */
  readonly maxConcurrentStreams: number;
  /** Longest encoder input, in tokens (at most the model's own `max_input_length`). */
  readonly maxInputTokens: number;
  /**
   * Longest text, in UTF-8 bytes, that `Start.text` and `Tokenize` take. Checked before tokenizing, so a
   * huge text costs no tokenizer time on the serving thread; by default `maxInputTokens` ×
   * `INPUT_BYTES_PER_TOKEN`, room for any text that fits the token limit but pathological ones.
   */
  readonly maxInputBytes: number;
  /** Most generated tokens per stream; also what `max_new_tokens: 0` means. */
  readonly maxNewTokens: number;
  /**
   * Largest client message, in bytes (grpc-js answers RESOURCE_EXHAUSTED beyond). A `Start` carries at most
   * an input (8 KiB of text by default), a pipeline and stop sequences, so 1 MiB is plenty; and grpc-js
   * decodes every message on the serving thread, so a larger one would hold it longer.
   */
  readonly maxReceiveMessageBytes: number;
  /**
   * Largest server message, in bytes. A step with float32 raw logits and processed scores is 8 bytes per
   * vocabulary entry (about 256 KiB for t5-small); the default leaves room for much larger vocabularies.
   */
  readonly maxSendMessageBytes: number;
  /** Most alternatives per step (`top_n_alternatives`). */
  readonly maxTopNAlternatives: number;
  /** Most stop strings plus stop token sequences per stream; each is checked after every token. */
  readonly maxStopSequences: number;
  /** Longest stop string, in characters (each is searched for after every token). */
  readonly maxStopStringLength: number;
  /** Most ids one `Detokenize` takes. */
  readonly maxDetokenizeIds: number;
  /** Most targets of one `Score` or `ScoreBatch` call, its requests together. */
  readonly maxScoreTargets: number;
  /**
   * Most target tokens of one `Score` or `ScoreBatch` call, its targets together. Each costs one logits row
   * (`vocab_size` float32: 128 KiB for t5-small), held on the serving thread until the call's statistics are
   * computed; the default bounds a call at 128 MiB of rows for t5-small. Each target also holds at most
   * `maxNewTokens`, the most a `Decode` could force.
   */
  readonly maxScoreTokens: number;
  /**
   * Most `num_beams` of a beam search. A beam search holds one decode state (KV cache) per beam and runs
   * them as one batch per step, so a stream costs up to this many streams' memory.
   */
  readonly maxBeams: number;
  /**
   * Most live branches of one `Decode` stream (`Fork`), its first sequence included: a client-side beam
   * search of width k needs k.
   */
  readonly maxBranchesPerStream: number;
  /**
   * Most forked branches alive at once across all streams (streams' first sequences are bounded by
   * `maxConcurrentStreams`). Each holds a KV cache of its own: 24 KiB per decoder token and per input token
   * for t5-small, so 128 branches of 512 + 512 tokens hold about 3 GiB at most.
   */
  readonly maxTotalBranches: number;
}

/** UTF-8 bytes per input token behind the default `maxInputBytes` (English averages about 4–5). */
export const INPUT_BYTES_PER_TOKEN = 16;

export const DEFAULT_SERVER_LIMITS: ServerLimits = {
  maxConcurrentStreams: 64,
  maxInputTokens: 512,
  maxNewTokens: 512,
  maxReceiveMessageBytes: 1024 * 1024,
  maxSendMessageBytes: 64 * 1024 * 1024,
  maxTopNAlternatives: 64,
  maxStopSequences: 32,
  maxInputBytes: 512 * INPUT_BYTES_PER_TOKEN,
  maxStopStringLength: 256,
  maxDetokenizeIds: 16_384,
  maxScoreTargets: 64,
  maxScoreTokens: 1_024,
  maxBeams: 8,
  maxBranchesPerStream: 16,
  maxTotalBranches: 128,
};

/**
 * Completes partial limits with the defaults and the model's own bound on input length, and checks them;
 * a bad value is a start-up error naming the option.
 */
export function resolveServerLimits(given: Partial<ServerLimits>, modelMaxInputLength: number): ServerLimits {
  const maxInputTokens = given.maxInputTokens ?? Math.min(DEFAULT_SERVER_LIMITS.maxInputTokens, modelMaxInputLength);
  const limits: ServerLimits = {
    ...DEFAULT_SERVER_LIMITS,
    maxInputTokens,
    maxInputBytes: maxInputTokens * INPUT_BYTES_PER_TOKEN,
    ...withoutUndefined(given),
  };
  const positive: ReadonlyArray<keyof ServerLimits> = [
    'maxConcurrentStreams',
    'maxInputTokens',
    'maxInputBytes',
    'maxNewTokens',
    'maxReceiveMessageBytes',
    'maxSendMessageBytes',
    'maxStopSequences',
    'maxStopStringLength',
    'maxDetokenizeIds',
    'maxScoreTargets',
    'maxScoreTokens',
    'maxBeams',
    'maxBranchesPerStream',
    'maxTotalBranches',
  ];
  for (const key of positive) {
    const value = limits[key];
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new RangeError(`server limit \`${key}\` must be a positive integer; given ${value}`);
    }
  }
  if (limits.maxInputTokens > modelMaxInputLength) {
    throw new RangeError(
      `server limit \`maxInputTokens\` must be in [1, ${modelMaxInputLength}] (the model's max input length); given ${limits.maxInputTokens}`,
    );
  }
  if (!Number.isSafeInteger(limits.maxTopNAlternatives) || limits.maxTopNAlternatives < 0) {
    throw new RangeError(
      `server limit \`maxTopNAlternatives\` must be a non-negative integer; given ${limits.maxTopNAlternatives}`,
    );
  }
  return limits;
}

function withoutUndefined(given: Partial<ServerLimits>): Partial<ServerLimits> {
  return Object.fromEntries(Object.entries(given).filter(([, value]) => value !== undefined));
}

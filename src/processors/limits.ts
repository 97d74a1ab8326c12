/**
 * The most a request may ask of the processors: how long each list a pipeline carries may be, and how large
 * a constraint (`choice`, `regex`) may grow. One stream's preparation and each of its steps run on the
 * serving thread, where every other stream and the health checks wait for them; these bounds keep the worst
 * accepted request to a small fraction of a second there (`bench/limits-bench.ts` measures it), and the
 * refusal of a larger one mostly to a check of a length. Each limit is declared with its parameter's schema, so
 * `ListProcessors` shows it in the parameter's range and a refusal names it with the value given.
 */
export const PROCESSOR_LIMITS = {
  /** Processors in one pipeline (a `Start`'s `processors`, or the pipeline a `generation_config` builds). */
  pipelineProcessors: 64,
  /** Pipeline changes in one decision. */
  pipelineChanges: 64,
  /** Ids in one token list: `ban_tokens`, `allow_tokens`, `suppress_tokens`, `begin_suppress_tokens`. */
  tokenIds: 32_768,
  /** Token sequences in `bad_words_ids`, and `[sequence, bias]` pairs in `sequence_bias`. */
  tokenSequences: 1_024,
  /** Ids in one sequence of `bad_words_ids` or `sequence_bias`. */
  tokenSequenceLength: 32,
  /** `[step, token_id]` pairs in a `force_token_at` schedule. */
  forcedSteps: 4_096,
  /** Strings in a `choice`'s `choices`. */
  choices: 1_024,
  /** Characters of all of a `choice`'s `choices` together (each is tokenized at `Start`). */
  choiceCharacters: 16_384,
  /** Characters of a `regex` pattern. */
  regexPatternCharacters: 16_384,
  /** Groups nested inside one another in a `regex` pattern. */
  regexGroupDepth: 100,
  /** Largest count of a `regex` quantifier `{m,n}`. */
  regexRepeatCount: 1_000,
  /** States of the nondeterministic automaton a `regex` pattern expands to (repetitions copy their operand). */
  regexNfaStates: 20_000,
  /** States of the deterministic automaton built from it at `Start`. */
  regexDfaStates: 10_000,
  /**
   * Work of building that automaton, counted in visits of nondeterministic states (a deterministic state is
   * a set of them): a pattern such as `.{0,1000}` repeated 19 times needs few states of each kind per
   * character, but sets of thousands of states per deterministic state.
   */
  regexBuildVisits: 1_000_000,
  /** Elements of a list parameter of a plugin's processor that declares no limit of its own. */
  defaultListItems: 65_536,
  /** Elements of each inner list of such a parameter (`int_list_list`, `sequence_bias_list`). */
  defaultInnerListItems: 1_024,
  /** Characters of a string parameter (or of each string of a list) of a plugin's processor that declares none. */
  defaultStringCharacters: 65_536,
} as const;

export type ProcessorLimits = typeof PROCESSOR_LIMITS;

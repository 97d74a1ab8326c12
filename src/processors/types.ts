/**
 * The logits-processor contract. A processor *definition* is registered once (built-in or plugin);
 * each stream gets its own *instance* from `create`, so per-stream state never lives in the definition.
 *
 * Usage:
 * ```ts
 * const def = registry.get('top_p');
 * const params = def.validate({ top_p: { kind: 'float', value: 0.9 } }, staticContext); // throws ProcessorParameterError
 * const instance = def.create(params, staticContext);
 * instance.apply(row, stepContext);                                   // row modified in place
 * ```
 */

/**
 * A parameter value as clients send it (mirrors `stepwise.v1.ParamValue`). Integers may arrive as
 * `bigint` (the wire type is sint64); they are checked to be safe integers before use.
 */
export type ParamValue =
  | { readonly kind: 'float'; readonly value: number }
  | { readonly kind: 'int'; readonly value: number | bigint }
  | { readonly kind: 'bool'; readonly value: boolean }
  | { readonly kind: 'string'; readonly value: string }
  | { readonly kind: 'list'; readonly value: readonly ParamValue[] };

/**
 * Parameter types (mirrors `stepwise.v1.ParamType`):
 * - `float`: a float value; an int value is accepted too (JSON and gRPC clients send `2` for `2.0`).
 * - `int`: an int value only (a float such as `50.0` is refused: it is not an integer by type).
 * - `int_list`, `string_list`, `int_list_list`: lists of those.
 * - `sequence_bias_list`: a list of `[list of int ids, float bias]` pairs.
 * - `int_map`: a list of `[int key, number value]` pairs.
 */
export type ParamType =
  | 'float'
  | 'int'
  | 'bool'
  | 'string'
  | 'int_list'
  | 'string_list'
  | 'int_list_list'
  | 'sequence_bias_list'
  | 'int_map';

/** One parameter's description, as `ListProcessors` shows it. */
export interface ParameterSpec {
  readonly name: string;
  readonly type: ParamType;
  readonly description: string;
  readonly required: boolean;
  /**
   * Allowed values, e.g. "(0, 1]" or ">= 1", and for a list or string its longest length, e.g. "at most 65,536
   * ids; each [0, vocab_size)"; empty when any value of the type is allowed.
   */
  readonly range: string;
  /** Default as text (e.g. "1"); empty when there is none. */
  readonly defaultValue: string;
}

/** A processor named with its parameters, as in a `Start` pipeline. */
export interface ProcessorSpec {
  readonly name: string;
  readonly params: Readonly<Record<string, ParamValue>>;
}

/** What a processor may know about a stream before its first step. */
export interface StaticContext {
  /** Width of every logits row (the model's `vocab_size`, which can exceed the tokenizer's size). */
  readonly vocabSize: number;
  readonly eosTokenId: number;
  readonly padTokenId: number;
  readonly decoderStartTokenId: number;
  /** Encoder input ids of this stream (including `</s>`). */
  readonly encoderInputIds: readonly number[];
  /** Decoder prompt length (1 = just the start token; larger with a decoder prefix). */
  readonly decoderPromptLength: number;
  /** HF `max_length`: decoder prompt length + max_new_tokens. */
  readonly maxLength: number;
  /** The tokenizer's string for an id (e.g. "▁house"), undefined outside the tokenizer's range. */
  tokenString(id: number): string | undefined;
  /** True for ids the tokenizer marks special (`<pad>`, `</s>`, `<unk>`, `<extra_id_*>`): they decode to no text. */
  isSpecialToken(id: number): boolean;
  /** Encodes text without the trailing `</s>` (for `choice`). */
  encodeText(text: string): readonly number[];
}

/** Read-only per-step context given to `apply`. */
export interface StepContext {
  /** Decoder history, including the decoder start token (HF `input_ids` of one row). */
  readonly history: readonly number[];
  /** Index of the step being decided: `history.length - decoderPromptLength` (0 for the first generated token). */
  readonly step: number;
}

/** A per-stream processor instance; modifies the logits row in place. */
export interface LogitsProcessor {
  readonly name: string;
  /** Rewrites `row` (vocabulary-wide scores) in place; must not keep a reference to it. */
  apply(row: Float32Array, context: StepContext): void;
  /** True when `apply` can never change which index holds the maximum (greedy may skip it). */
  isArgmaxInvariant(): boolean;
  /**
   * The ids whose scores `apply` may lower, when it changes no other score (e.g. `min_new_tokens`, which
   * only sets EOS to -inf): the maximum then moves only when it sat on one of them. Omitted or undefined
   * when there is no such set; the same for the instance's whole life. The server uses it to guess a greedy
   * stream's next token from the raw row.
   */
  lowersOnly?(): readonly number[] | undefined;
}

export interface ProcessorDefinition<P = unknown> {
  /** Stable name used in `ProcessorSpec.name`, e.g. "top_p". */
  readonly name: string;
  readonly description: string;
  readonly parameters: readonly ParameterSpec[];
  /** Validates raw parameters at `Start`; throws `ProcessorParameterError` naming the field and range. */
  validate(raw: Readonly<Record<string, ParamValue>>, context: StaticContext): P;
  /** Builds one stream's instance from parameters `validate` returned. */
  create(params: P, context: StaticContext): LogitsProcessor;
}

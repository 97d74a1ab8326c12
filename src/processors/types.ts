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

/** A parameter value as clients send it (mirrors `stepwise.v1.ParamValue`). */
export type ParamValue =
  | { readonly kind: 'float'; readonly value: number }
  | { readonly kind: 'int'; readonly value: number }
  | { readonly kind: 'bool'; readonly value: boolean }
  | { readonly kind: 'string'; readonly value: string }
  | { readonly kind: 'list'; readonly value: readonly ParamValue[] };

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

/** One parameter's schema: used both to validate at `Start` and to describe it in `ListProcessors`. */
export interface ParameterSpec {
  readonly name: string;
  readonly type: ParamType;
  readonly description: string;
  readonly required: boolean;
  /** Human-readable range, e.g. "(0, 1]"; empty when any value of the type is allowed. */
  readonly range: string;
  /** Default as text (e.g. "1.0"); empty when there is none. */
  readonly defaultValue: string;
}

/** What a processor may know about a stream before its first step. */
export interface StaticContext {
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
  /** The tokenizer's string for an id (for `choice`/`regex`), undefined outside its range. */
  tokenString(id: number): string | undefined;
  /** Encodes text without the trailing `</s>` (for `choice`). */
  encodeText(text: string): readonly number[];
}

/** Read-only per-step context given to `apply`. */
export interface StepContext {
  /** Decoder history, including the decoder start token (HF `input_ids` of one row). */
  readonly history: readonly number[];
  /** Index of the step being decided (0 for the first generated token). */
  readonly step: number;
}

/** A per-stream processor instance; modifies the logits row in place. */
export interface LogitsProcessor {
  readonly name: string;
  apply(row: Float32Array, context: StepContext): void;
  /** True when `apply` can never change which index holds the maximum (greedy may skip it). */
  isArgmaxInvariant(): boolean;
}

export interface ProcessorDefinition<P = unknown> {
  readonly name: string;
  readonly description: string;
  readonly parameters: readonly ParameterSpec[];
  /** Validates raw parameters at `Start`; throws `ProcessorParameterError` naming the field and range. */
  validate(raw: Readonly<Record<string, ParamValue>>, context: StaticContext): P;
  create(params: P, context: StaticContext): LogitsProcessor;
}

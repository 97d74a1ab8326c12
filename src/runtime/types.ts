/**
 * The runtime's public contract: what the server (and benchmarks) may rely on.
 *
 * Usage:
 * ```ts
 * const model = await loadModel('path/to/model-folder');          // config, tokenizer, ONNX sessions
 * const ids = model.tokenizer.encode('translate English to German: Hello'); // ends with </s>
 * const [encoded] = await model.encode([ids]);                      // encoder runs once
 * const state = model.createState(encoded);                         // decoder history = [decoder_start]
 * for (let i = 0; i < 20; i++) {
 *   const [logits] = await model.step([state]);                     // Float32Array view, vocabSize long
 *   const next = argmax(logits);
 *   state.append(next);
 *   if (next === model.specialIds.eos) break;
 * }
 * state.dispose();
 * await model.dispose();
 * ```
 */

/** Ids the decoding loop needs; taken from config.json / generation_config.json. */
export interface SpecialIds {
  readonly pad: number;
  readonly eos: number;
  /** `undefined` when the tokenizer has no unknown token. */
  readonly unk: number | undefined;
  readonly decoderStart: number;
}

/** The subset of a T5 `config.json` the runtime reads, after validation and defaults. */
export interface T5Config {
  readonly modelType: string;
  readonly vocabSize: number;
  readonly dModel: number;
  readonly dKv: number;
  readonly dFf: number;
  readonly numLayers: number;
  readonly numDecoderLayers: number;
  readonly numHeads: number;
  readonly relativeAttentionNumBuckets: number;
  readonly relativeAttentionMaxDistance: number;
  readonly layerNormEpsilon: number;
  readonly feedForwardProj: string;
  readonly tieWordEmbeddings: boolean;
  readonly padTokenId: number;
  readonly eosTokenId: number;
  readonly decoderStartTokenId: number;
}

/** Text ↔ ids, backed by the folder's `tokenizer.json`. */
export interface TextTokenizer {
  /** Number of ids the tokenizer knows (can be smaller than the logits width). */
  readonly size: number;
  /** Encodes text the way Hugging Face does for T5: ids end with `</s>`. */
  encode(text: string): number[];
  /** Decodes ids to text; special tokens skipped unless asked. */
  decode(ids: readonly number[], options?: { skipSpecialTokens?: boolean }): string;
  /** The vocabulary string of one id (e.g. "▁house"), or undefined outside the tokenizer's range. */
  tokenString(id: number): string | undefined;
}

/** Encoder result for one input sequence; shared by the decode states created from it. */
export interface EncodedInput {
  /** The encoder input ids, as given (including `</s>`). */
  readonly inputIds: readonly number[];
  /** Wall time of the encoder run that produced it, in milliseconds. */
  readonly encodeMs: number;
}

/**
 * One sequence being decoded: its decoder history and its KV cache.
 * `tokens` always starts with the decoder start token. The logits returned by `step` are for the
 * position after the last token of `tokens`.
 */
export interface DecodeState {
  readonly encoded: EncodedInput;
  /** Decoder history, including the decoder start token. */
  readonly tokens: readonly number[];
  /** Number of tokens whose keys/values are in the self-attention cache. */
  readonly cachedLength: number;
  /** Appends a token (chosen or forced); validated against `[0, vocabSize)`. */
  append(token: number): void;
  /**
   * Removes the last `n` tokens (never the decoder start token). The self-attention cache is cut
   * back (sliced, not recomputed), so the next `step` equals a fresh decode of the shorter history.
   */
  rewind(n: number): void;
  /** Releases the cache; idempotent. */
  dispose(): void;
  readonly disposed: boolean;
}

export interface ModelRuntime {
  /** Folder name (or the name given at load). */
  readonly name: string;
  readonly config: T5Config;
  /** Logits width (config.vocab_size), e.g. 32128 for t5-small. */
  readonly vocabSize: number;
  readonly specialIds: SpecialIds;
  readonly tokenizer: TextTokenizer;
  /** Longest encoder input accepted (tokenizer_config `model_max_length`, else 512). */
  readonly maxInputLength: number;
  /** Decode states created and not yet disposed (tests read it to prove nothing leaks). */
  readonly liveStates: number;
  /** Runs the encoder once over a batch of id sequences (padded and masked as one run). */
  encode(inputs: readonly (readonly number[])[]): Promise<EncodedInput[]>;
  /** Creates a decode state; `decoderPrefix` (without the start token) is fed on the first step. */
  createState(encoded: EncodedInput, decoderPrefix?: readonly number[]): DecodeState;
  /**
   * Runs the decoder once for every state and returns each state's next-token logits row
   * (a `Float32Array` view of `vocabSize` floats, valid until that state's next `step`).
   * States that sit at the same position run as one batch.
   */
  step(states: readonly DecodeState[]): Promise<Float32Array[]>;
  dispose(): Promise<void>;
}

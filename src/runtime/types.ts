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

/**
 * Generation settings of the model folder: `config.json`'s ids overridden by `generation_config.json`
 * (transformers' precedence). Limits are only present when the folder sets them.
 */
export interface GenerationDefaults {
  readonly decoderStartTokenId: number;
  /** Every id that ends a sequence (Hugging Face allows a list); `SpecialIds.eos` is the first. */
  readonly eosTokenIds: readonly number[];
  readonly padTokenId: number;
  readonly maxLength?: number;
  readonly maxNewTokens?: number;
  /**
   * The file's other entries (Hugging Face `GenerationConfig` fields such as `do_sample`, `top_k`,
   * `repetition_penalty`), as the file holds them: the server's defaults for a stream that names no
   * pipeline. The runtime reads none of them.
   */
  readonly settings: Readonly<Record<string, unknown>>;
}

/** Shapes of a T5 model, in the names of Hugging Face's `T5Config` (shared with the model builder). */
export interface T5Shapes {
  readonly dModel: number;
  readonly dKv: number;
  readonly dFf: number;
  readonly numLayers: number;
  readonly numDecoderLayers: number;
  readonly numHeads: number;
  readonly relativeAttentionNumBuckets: number;
  readonly relativeAttentionMaxDistance: number;
  readonly layerNormEpsilon: number;
}

/** The subset of a T5 `config.json` the runtime reads, after validation and defaults. */
export interface T5Config extends T5Shapes {
  readonly modelType: string;
  readonly vocabSize: number;
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
  /** The encoder's output for these ids alone, `[S * d_model]` floats (a view; read-only by convention). */
  readonly hiddenStates: Float32Array;
  /** Wall time of the encoder run that produced it, in milliseconds. */
  readonly encodeMs: number;
}

/**
 * One sequence being decoded: its decoder history and its KV cache.
 * `tokens` always starts with the decoder start token. The logits returned by `step` are for the
 * position after the last token of `tokens`.
 */
export interface DecodeState {
  /** Unique per model, for logs and maps. */
  readonly id: number;
  readonly encoded: EncodedInput;
  /** Decoder history, including the decoder start token. */
  readonly tokens: readonly number[];
  /** Number of tokens whose keys/values are in the self-attention cache. */
  readonly cachedLength: number;
  /**
   * Appends a token (chosen or forced); validated against `[0, vocabSize)`. Several tokens may be
   * appended between steps (teacher forcing): the next `step` feeds them all and returns the logits
   * after the last one.
   */
  append(token: number): void;
  /**
   * Removes the last `n` tokens, `n` in `[0, tokens.length - 1]` (never the decoder start token). The
   * self-attention cache is cut back (sliced, not recomputed), so the next `step` equals a fresh
   * decode of the shorter history. Throws `OutOfRangeError` outside that range.
   *
   * By default the cache keeps every remaining token but the last, which the next `step` feeds again and
   * so returns the logits after it. With `keepLastCached` it keeps them all, as the step that produced the
   * last remaining token's logits left it: append a token before the next `step`, which then runs exactly
   * as if the removed tokens had never been appended (for taking back tokens whose logits are known).
   */
  rewind(n: number, options?: RewindOptions): void;
  /**
   * Tells the model which token will most likely follow the row the next `step` returns, so that a model
   * whose steps wait on another thread (the worker model) can run the step after it ahead, on that token,
   * while the caller is still choosing. A guess that misses costs that run, never a different result.
   * Holds for the next `step` only; `undefined` (the default) asks for nothing; the in-process model
   * ignores it.
   */
  expectNext(hint: NextTokenHint | undefined): void;
  /**
   * A new state of the same model on the same encoded input, with this state's decoder history
   * (`tokens`, pending tokens included) and `cachedLength`, and a copy of its KV cache; from then on the
   * two are independent (append, rewind, step and dispose each) and may step together in one batched run
   * when they sit at the same position. Counted in `liveStates` until disposed.
   *
   * Cost: the encoder output is shared (it belongs to the encoded input), the K/V are copied once, now:
   * `2 × numDecoderLayers × numHeads × d_kv × 4` bytes per cached decoder token (self-attention), plus the
   * same per encoder position for the cross-attention K/V (once the state has stepped). For t5-small
   * (6 layers, 8 heads, d_kv 64) that is 24 KiB per decoder token and 24 KiB per input token. On the
   * worker model the copy is made on the model thread, in order with the steps; a state whose next step
   * the thread already ran ahead (`expectNext`) is forked without that guess, at one more copy of its
   * self-attention K/V.
   *
   * Throws `StateError` on a disposed state, one whose step is in flight, or on a disposed model, and
   * `ModelUnavailableError` for a state of a model thread that stopped.
   */
  fork(): DecodeState;
  /** Releases the cache; idempotent. */
  dispose(): void;
  readonly disposed: boolean;
}

/**
 * The token expected after a step's row (`DecodeState.expectNext`): one already known (the next of a
 * forced run), or the row's greedy choice (highest finite score, lowest id on ties) unless that is one of
 * `unless` (ids a processor may lower, and those that would end the stream: no step follows them).
 */
export type NextTokenHint =
  | { readonly kind: 'token'; readonly token: number }
  | { readonly kind: 'argmax'; readonly unless: readonly number[] };

/**
 * One target of `ModelRuntime.score`: tokens to score after an encoded input and a decoder prompt, in one
 * teacher-forced pass (Hugging Face's `labels`).
 */
export interface ScoreTarget {
  /** The encoder output the decoder attends to (from this model's `encode`). */
  readonly encoded: EncodedInput;
  /** Decoder tokens after the start token and before the target (a decoder prompt); not scored. */
  readonly prefix?: readonly number[];
  /** The tokens scored, at least one, each in `[0, vocabSize)`. */
  readonly tokens: readonly number[];
}

/** Weight formats a model folder can hold; each picks a file-name suffix (`q8` → `_quantized`). */
export type ModelDtype = 'fp32' | 'fp16' | 'q8' | 'int8' | 'uint8' | 'q4' | 'q4f16' | 'bnb4';

/**
 * A weight format per file, for folders that mix them (`--dtype encoder=fp32,decoder=q8`), as
 * transformers.js' per-file `dtype` object does; `decoder` covers every decoder file.
 */
export interface DtypeByFile {
  readonly encoder: ModelDtype;
  readonly decoder: ModelDtype;
}

/** One format for every file, or one per file. */
export type ModelDtypeChoice = ModelDtype | DtypeByFile;

/** Options of `DecodeState.rewind`. */
export interface RewindOptions {
  /** Keep the K/V of the last remaining token too (default false: the next step re-feeds it). */
  readonly keepLastCached?: boolean;
}

/** When ONNX Runtime's intra-op threads spin while waiting for work (`LoadModelOptions.intraOpSpinning`). */
export type IntraOpSpinning = 'during-runs' | 'always' | 'off';

/** Options of `loadModel`. Every field is optional. */
export interface LoadModelOptions {
  /** Name reported by the model; defaults to the folder's name. */
  readonly name?: string;
  /**
   * Which ONNX files to load: `fp32` (default), `fp16` (`*_fp16.onnx`), `q8` (`*_quantized.onnx`), …, or
   * one per file (`{ encoder: 'fp32', decoder: 'q8' }`).
   */
  readonly dtype?: ModelDtypeChoice;
  /** `auto` (default) uses `decoder_model_merged` when present, else the split pair; the others force one. */
  readonly decoderLayout?: 'auto' | 'merged' | 'split';
  /** Longest encoder input accepted; defaults to tokenizer_config `model_max_length`, else 512. */
  readonly maxInputLength?: number;
  /** ONNX Runtime threads inside one operator; defaults to ONNX Runtime's choice (the physical cores). */
  readonly intraOpNumThreads?: number;
  /** ONNX Runtime threads across operators (parallel execution mode only). */
  readonly interOpNumThreads?: number;
  /** ONNX Runtime graph optimization level; defaults to `all`. */
  readonly graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  /** ONNX Runtime's CPU memory arena (reuses activation buffers across runs); defaults to on. */
  readonly enableCpuMemArena?: boolean;
  /**
   * When ONNX Runtime's intra-op threads spin while waiting for work. `during-runs` (default): between the
   * operators of a run, and they stop when the run returns; `always`: between runs too (ONNX Runtime's own
   * default); `off`: never, their cores go back to other threads at once. See `INTRA_OP_SPINNING`.
   */
  readonly intraOpSpinning?: IntraOpSpinning;
  /**
   * `full` (default) keeps the tokenizer; `facts` checks it at load and keeps only its sizes and ids, for
   * a model that is never asked to tokenize (the model thread; its serving thread holds the tokenizer).
   */
  readonly tokenizer?: 'full' | 'facts';
}

/**
 * What describes a loaded model, in one object: the runtime, the model thread's handle and the scheduler
 * in front of it all hand the same `ModelInfo` on, instead of each mirroring its fields.
 */
export interface ModelInfo {
  /** Folder name (or the name given at load). */
  readonly name: string;
  /** Weight format of the loaded ONNX files: one for all, or one per file when they differ. */
  readonly dtype: ModelDtypeChoice;
  /** Which decoder files were loaded. */
  readonly decoderLayout: 'merged' | 'split';
  readonly config: T5Config;
  readonly generation: GenerationDefaults;
  /** Logits width (config.vocab_size), e.g. 32128 for t5-small. */
  readonly vocabSize: number;
  readonly specialIds: SpecialIds;
  /** Longest encoder input accepted (tokenizer_config `model_max_length`, else 512). */
  readonly maxInputLength: number;
}

/**
 * Whether a model can serve now (`ModelRuntime.status`):
 * - `ready`: it serves (a model in this process is always ready);
 * - `restarting`: its thread stopped; a new one is being started and warmed up, and requests fail with
 *   `ModelUnavailableError` meanwhile;
 * - `failed`: every restart attempt failed; requests keep failing with `ModelUnavailableError`.
 */
export type ModelStatus = 'ready' | 'restarting' | 'failed';

/**
 * A change of `ModelRuntime.status`, or a failed restart attempt (`restarting` again). When the status
 * leaves `ready`, every decode state and encoder output made before is lost: their next `step`, and
 * `createState` from such an encoder output, reject with `ModelUnavailableError` (a step in flight
 * too); disposing them stays allowed, and they are counted in `liveStates` until disposed.
 * A deliberate `dispose()` is no status change.
 */
export interface ModelStatusEvent {
  readonly status: ModelStatus;
  /** Restart attempts made since the thread stopped: 0 on the event that reports the stop. */
  readonly attempt: number;
  /**
   * Why, for the log: what stopped the thread (attempt 0), the failed attempt's error (`restarting`,
   * attempt ≥ 1), or the last attempt's error (`failed`). Absent for `ready`.
   */
  readonly cause?: Error;
}

export type ModelStatusListener = (event: ModelStatusEvent) => void;

export interface ModelRuntime {
  /** Name, shapes, special ids, limits: fixed for the model's life. */
  readonly info: ModelInfo;
  readonly tokenizer: TextTokenizer;
  /** Decode states created and not yet disposed (tests read it to prove nothing leaks). */
  readonly liveStates: number;
  /**
   * Runs the encoder once over a batch of id sequences (padded and masked as one run); each result
   * holds its own unpadded rows. Throws `InvalidInputError` for an empty sequence, one longer than
   * `maxInputLength`, or an id outside `[0, vocabSize)`.
   */
  encode(inputs: readonly (readonly number[])[]): Promise<EncodedInput[]>;
  /** Creates a decode state; `decoderPrefix` (without the start token) is fed on the first step. */
  createState(encoded: EncodedInput, decoderPrefix?: readonly number[]): DecodeState;
  /**
   * Runs the decoder once for every state and returns each state's next-token logits row
   * (a `Float32Array` view of `vocabSize` floats). A row stays valid until the state's step after
   * next begins: a caller may start step t + 1 as soon as it knows step t's token and read row t
   * meanwhile.
   * States that sit at the same position run as one batch; each row equals the row the state gets
   * when stepped alone. A state disposed while the step runs gets an empty row.
   * Throws `InvalidInputError` for a state of another model or one listed twice, and `StateError` for
   * a disposed state, one already stepping, or one with no token appended since its last step.
   */
  step(states: readonly DecodeState[]): Promise<Float32Array[]>;
  /**
   * Scores each target in one pass of the decoder without cache over its whole shifted sequence
   * (`[decoderStart, ...prefix, ...tokens]` less the last token), as Hugging Face's `labels` do, and
   * returns per target `tokens.length` logits rows, `tokens.length × vocabSize` floats: row i is the
   * model's output after `[decoderStart, ...prefix, ...tokens.slice(0, i)]`, the row that scores
   * `tokens[i]`, which is the row `step` returns for a state with that history. Targets of any lengths and
   * inputs share runs (right-padded, encoder lengths padded and masked), which changes no target's rows;
   * the runs are bounded (`scoreRunRows`). The arrays are the caller's to keep.
   * Throws `InvalidInputError` for an encoder output of another model, an empty target, or an id outside
   * `[0, vocabSize)`.
   */
  score(targets: readonly ScoreTarget[]): Promise<Float32Array[]>;
  /** Runs the encoder and one decoder step on a short input, so the first request pays no warm-up cost. */
  warmUp(): Promise<void>;
  /** Disposes every live state and releases the ONNX sessions; idempotent. */
  dispose(): Promise<void>;
  /** Whether the model can serve now (see `ModelStatus`). */
  readonly status: ModelStatus;
  /**
   * Calls `listener` (synchronously, in subscription order) at every `ModelStatusEvent` until the
   * returned function is called. A model that never changes status (in process) never calls it.
   */
  onStatus(listener: ModelStatusListener): () => void;
}

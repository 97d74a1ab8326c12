/**
 * The `ModelRuntime` of a T5 model folder: encodes once, then steps the decoder with its KV cache.
 *
 * ```ts
 * const model = await loadModel('.cache/models/tiny-relu-tied');
 * const [encoded] = await model.encode([model.tokenizer.encode('translate English to German: Hi')]);
 * const state = model.createState(encoded);
 * const [logits] = await model.step([state]);   // Float32Array view of vocabSize floats
 * state.append(argmax(logits));                 // or force any id; state.rewind(n) cuts back
 * state.dispose();
 * ```
 *
 * `step(states)` groups the states that can share a decoder run: sequences without a cache yet and the
 * same number of tokens to feed run the first-step decoder together; cached sequences at the same
 * position run the cached decoder together. Encoder lengths may differ within a run: shorter ones are
 * padded and masked, which changes no sequence's result.
 *
 * `score(targets)` runs the same first-step decoder over whole targets at once (teacher forcing) and keeps
 * no cache: each target's rows are views of the run's logits.
 */
import { Tensor } from 'onnxruntime-node';

import { stackRows } from './batch-tensors.js';
import type { DecoderRunner, EncoderFeeds } from './decoder-runner.js';
import { type DecodeStateOwner, T5DecodeState } from './decode-state.js';
import { T5EncodedInput } from './encoded-input.js';
import type { EncoderRunner } from './encoder-runner.js';
import { InvalidInputError, StateError } from './errors.js';
import { float32Slice } from './float-tensors.js';
import { checkTokenIds } from './id-validation.js';
import { checkStepStates } from './step-checks.js';
import { SequenceCache } from './kv-cache.js';
import { checkScoreTargets, scoreRunRows, scoreSequenceLength, splitScoreRuns } from './score-runs.js';
import type { ModelTokenizer } from './text-tokenizer.js';
import type { DecodeState, EncodedInput, ModelInfo, ModelRuntime, ModelStatus, ModelStatusListener, ScoreTarget } from './types.js';

/** Everything `loadModel` opened and validated. */
export interface T5ModelParts {
  readonly info: ModelInfo;
  readonly tokenizer: ModelTokenizer;
  readonly encoder: EncoderRunner;
  readonly decoder: DecoderRunner;
}

export class T5Model implements ModelRuntime, DecodeStateOwner {
  readonly info: ModelInfo;
  readonly tokenizer: ModelTokenizer;
  private readonly encoder: EncoderRunner;
  private readonly decoder: DecoderRunner;
  private readonly live = new Set<T5DecodeState>();
  private nextStateId = 1;
  private isDisposed = false;

  constructor(parts: T5ModelParts) {
    this.info = parts.info;
    this.tokenizer = parts.tokenizer;
    this.encoder = parts.encoder;
    this.decoder = parts.decoder;
  }

  /** Logits width; states check appended ids against it (`DecodeStateOwner`). */
  get vocabSize(): number {
    return this.info.vocabSize;
  }

  get liveStates(): number {
    return this.live.size;
  }

  async encode(inputs: readonly (readonly number[])[]): Promise<EncodedInput[]> {
    this.checkOpen('encode');
    if (!Array.isArray(inputs)) {
      throw new InvalidInputError(`\`inputs\` must be an array of token id arrays; given ${typeof inputs}`);
    }
    inputs.forEach((ids, index) => this.checkEncoderInput(ids, inputs.length === 1 ? 'input_ids' : `inputs[${index}]`));
    if (inputs.length === 0) return [];
    const { hiddenStates, encodeMs } = await this.encoder.run(inputs);
    return inputs.map((ids, row) => new T5EncodedInput(this, [...ids], encodeMs, this.decoder.acceptHiddenStates(hiddenStates[row]!)));
  }

  createState(encoded: EncodedInput, decoderPrefix: readonly number[] = []): DecodeState {
    this.checkOpen('create a decode state');
    if (!(encoded instanceof T5EncodedInput) || encoded.owner !== this) {
      throw new InvalidInputError('`encoded` must come from this model\'s encode()');
    }
    checkTokenIds(decoderPrefix, this.vocabSize, 'decoderPrefix');
    const cache = new SequenceCache(encoded.length, encoded.hiddenStatesTensor, encoded.attentionMask);
    const tokens = [this.info.specialIds.decoderStart, ...decoderPrefix];
    const state = new T5DecodeState(this, this.nextStateId++, encoded, tokens, cache);
    this.live.add(state);
    return state;
  }

  async step(states: readonly DecodeState[]): Promise<Float32Array[]> {
    this.checkOpen('step');
    const members = checkStepStates(states, (state): state is T5DecodeState => state instanceof T5DecodeState && state.ownedBy(this), (state) => state.stepping);
    const rows = new Map<T5DecodeState, Float32Array>();
    members.forEach((state) => state.beginStep());
    try {
      const fresh = members.filter((state) => state.cachedLength === 0);
      const cached = members.filter((state) => state.cachedLength > 0);
      for (const group of groupBy(fresh, (state) => state.tokens.length)) await this.runFirstStep(group, rows);
      // Tokens appended since the last step beyond the first (forced runs) are fed one at a time: the
      // cached decoder takes exactly one token per run (the with-past export fixes that axis to 1).
      // A state disposed meanwhile (its stream was cancelled) drops out of the remaining runs.
      for (let behind = laggards(cached); behind.length > 0; behind = laggards(cached)) {
        for (const group of groupBy(behind, (state) => state.cachedLength)) await this.runCachedStep(group);
      }
      const ready = cached.filter((state) => !state.disposed);
      for (const group of groupBy(ready, (state) => state.cachedLength)) await this.runCachedStep(group, rows);
    } finally {
      members.forEach((state) => state.endStep());
    }
    return members.map((state) => rows.get(state) ?? EMPTY_ROW);
  }

  async score(targets: readonly ScoreTarget[]): Promise<Float32Array[]> {
    this.checkOpen('score');
    const own = checkScoreTargets(targets, (encoded): encoded is T5EncodedInput => encoded instanceof T5EncodedInput && encoded.owner === this, this.vocabSize);
    const rows: Float32Array[] = [];
    for (const run of splitScoreRuns(own, scoreSequenceLength, scoreRunRows(this.vocabSize))) rows.push(...(await this.runScore(run)));
    return rows;
  }

  async warmUp(): Promise<void> {
    const [encoded] = await this.encode([[this.info.specialIds.eos]]);
    const state = this.createState(encoded!);
    try {
      await this.step([state]); // first-step decoder
      state.append(this.info.specialIds.eos);
      await this.step([state]); // cached decoder
    } finally {
      state.dispose();
    }
  }

  async dispose(): Promise<void> {
    if (this.isDisposed) return;
    this.isDisposed = true;
    for (const state of [...this.live]) state.dispose();
    await Promise.all([this.encoder.release(), this.decoder.release()]);
  }

  stateDisposed(state: T5DecodeState): void {
    this.live.delete(state);
  }

  forkState(state: T5DecodeState): T5DecodeState {
    this.checkOpen('fork a decode state');
    const fork = new T5DecodeState(this, this.nextStateId++, state.encoded, state.tokens, state.cache.copy());
    this.live.add(fork);
    return fork;
  }

  /** Always `ready`: a model in this process has no thread that could stop on its own. */
  get status(): ModelStatus {
    return 'ready';
  }

  /** Never calls `listener` (the status never changes). */
  onStatus(_listener: ModelStatusListener): () => void {
    return () => {};
  }

  /** Every token of each state at once, through the decoder without past. */
  private async runFirstStep(group: readonly T5DecodeState[], rows: Map<T5DecodeState, Float32Array>): Promise<void> {
    const length = group[0]!.tokens.length;
    const inputIds = new BigInt64Array(group.length * length);
    group.forEach((state, row) => state.tokens.forEach((token, i) => (inputIds[row * length + i] = BigInt(token))));
    const caches = group.map((state) => state.cache);
    const encoder = SequenceCache.encoderBatch(caches, false);
    const outputs = await this.decoder.runFirst(new Tensor('int64', inputIds, [group.length, length]), encoder);
    SequenceCache.adoptRun(caches, encoder, outputs.selfKv, length, outputs.crossKv);
    this.collectRows(group, outputs.logits, rows);
  }

  /** The first pending token of each state (all at the same position) through the cached decoder. */
  private async runCachedStep(group: readonly T5DecodeState[], rows?: Map<T5DecodeState, Float32Array>): Promise<void> {
    const position = group[0]!.cachedLength;
    const inputIds = new BigInt64Array(group.length);
    group.forEach((state, row) => (inputIds[row] = BigInt(state.tokens[position]!)));
    const caches = group.map((state) => state.cache);
    const encoder = SequenceCache.encoderBatch(caches, true);
    const outputs = await this.decoder.runCached(
      new Tensor('int64', inputIds, [group.length, 1]),
      encoder,
      SequenceCache.selfKvBatch(caches),
      encoder.crossKv!,
    );
    SequenceCache.adoptRun(caches, encoder, outputs.selfKv, position + 1);
    if (rows !== undefined) this.collectRows(group, outputs.logits, rows);
    else this.releaseDisposed(group);
  }

  /**
   * One decoder run without cache over the targets' whole sequences, right-padded to the longest (causal
   * self-attention: a pad token never changes the positions before it); each target gets a view of its
   * rows in the `[B, T, V]` output, which are contiguous.
   */
  private async runScore(run: readonly (ScoreTarget & { readonly encoded: T5EncodedInput })[]): Promise<Float32Array[]> {
    const length = Math.max(...run.map(scoreSequenceLength));
    const inputIds = new BigInt64Array(run.length * length).fill(BigInt(this.info.specialIds.pad));
    run.forEach((target, row) => {
      const sequence = [this.info.specialIds.decoderStart, ...(target.prefix ?? []), ...target.tokens.slice(0, -1)];
      sequence.forEach((token, i) => (inputIds[row * length + i] = BigInt(token)));
    });
    const logits = await this.decoder.runLogits(new Tensor('int64', inputIds, [run.length, length]), encoderFeeds(run.map((target) => target.encoded)));
    const width = logits.dims[2]!;
    if (width !== this.vocabSize) throw new Error(`the decoder returned logits ${width} wide; config.json vocab_size is ${this.vocabSize}`);
    return run.map((target, row) => {
      const first = row * length + (target.prefix?.length ?? 0);
      return float32Slice(logits, first * width, (first + target.tokens.length) * width);
    });
  }

  /** Each state's logits row at its last position, as a view of the `[B, T, V]` output. */
  private collectRows(group: readonly T5DecodeState[], logits: Tensor, rows: Map<T5DecodeState, Float32Array>): void {
    const [, length, width] = logits.dims as [number, number, number];
    if (width !== this.vocabSize) {
      throw new Error(`the decoder returned logits ${width} wide; config.json vocab_size is ${this.vocabSize}`);
    }
    group.forEach((state, row) => {
      if (state.disposed) return;
      const start = (row * length + length - 1) * width;
      rows.set(state, float32Slice(logits, start, start + width));
    });
    this.releaseDisposed(group);
  }

  /** A state disposed while its step ran (a cancelled stream) must not keep the cache the step produced. */
  private releaseDisposed(group: readonly T5DecodeState[]): void {
    for (const state of group) if (state.disposed) state.cache.release();
  }

  private checkEncoderInput(ids: readonly number[], field: string): void {
    if (!Array.isArray(ids)) throw new InvalidInputError(`${field} must be an array of token ids; given ${typeof ids}`);
    if (ids.length === 0) {
      throw new InvalidInputError(`${field} is empty; the encoder needs at least one token (T5 inputs end with </s>)`);
    }
    if (ids.length > this.info.maxInputLength) {
      throw new InvalidInputError(
        `${field} has ${ids.length} tokens; at most ${this.info.maxInputLength} (the model's maximum input length) are accepted`,
      );
    }
    checkTokenIds(ids, this.vocabSize, field);
  }

  private checkOpen(action: string): void {
    if (this.isDisposed) throw new StateError(`cannot ${action}: model ${this.info.name} is disposed`);
  }
}

/** The encoder side of a scoring run: each target's input, padded to the longest and masked. */
function encoderFeeds(inputs: readonly T5EncodedInput[]): EncoderFeeds {
  if (inputs.length === 1) return { hiddenStates: inputs[0]!.hiddenStatesTensor, attentionMask: inputs[0]!.attentionMask };
  const length = Math.max(...inputs.map((input) => input.length));
  return {
    hiddenStates: stackRows(inputs.map((input) => input.hiddenStatesTensor), ENCODER_LENGTH_AXIS, length),
    attentionMask: stackRows(inputs.map((input) => input.attentionMask), ENCODER_LENGTH_AXIS, length),
  };
}

/** Axis of the sequence length in `[B, S, d_model]` hidden states and `[B, S]` masks. */
const ENCODER_LENGTH_AXIS = 1;

/** What `step` returns for a state disposed while the step ran: nobody reads it any more. */
const EMPTY_ROW = new Float32Array(0);

function laggards(states: readonly T5DecodeState[]): T5DecodeState[] {
  return states.filter((state) => !state.disposed && state.pendingCount > 1);
}

/** Groups in first-seen order, so states keep the caller's order inside a batch. */
function groupBy<T, K>(items: readonly T[], key: (item: T) => K): T[][] {
  const groups = new Map<K, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k);
    if (group === undefined) groups.set(k, [item]);
    else group.push(item);
  }
  return [...groups.values()];
}

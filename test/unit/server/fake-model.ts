/**
 * A `ModelRuntime` fake for unit tests of the decode session's state machine: no ONNX, a 16-token
 * vocabulary, and rows that depend only on the decoder history, so that a rewound or re-run step gives the
 * same row as before. It records every step's history and the hint it was given.
 *
 * The row for history h prefers `preferred(h)` (score 5) over every other id (scores ≤ 0); EOS is id 1.
 */
import type {
  DecodeState,
  EncodedInput,
  ModelInfo,
  ModelRuntime,
  ModelStatus,
  NextTokenHint,
  ScoreTarget,
  TextTokenizer,
} from '../../../src/runtime/types.js';

export const FAKE_VOCAB = 16;
export const FAKE_EOS = 1;

/** The id the row after `history` prefers: never EOS, so streams run to their limit unless forced. */
export function preferred(history: readonly number[]): number {
  const sum = history.reduce((total, id) => total + id, 0);
  const id = (sum * 7 + history.length * 3) % FAKE_VOCAB;
  return id === FAKE_EOS ? 2 : id;
}

/** The row after `history`. */
export function rowAfter(history: readonly number[]): Float32Array {
  const row = new Float32Array(FAKE_VOCAB);
  const best = preferred(history);
  for (let id = 0; id < FAKE_VOCAB; id++) row[id] = id === best ? 5 : -((id * 3) % 5);
  return row;
}

/** Letters for ids 2..15; 0 (pad) and 1 (EOS) are special and decode to nothing without special tokens. */
const fakeTokenizer: TextTokenizer = {
  size: FAKE_VOCAB,
  encode: (text) => [...text].map((char) => 2 + (char.charCodeAt(0) % 14)).concat(FAKE_EOS),
  decode: (ids, options) =>
    ids
      .filter((id) => !(options?.skipSpecialTokens === true && id < 2))
      .map((id) => (id === 0 ? '<pad>' : id === FAKE_EOS ? '</s>' : String.fromCharCode(95 + id)))
      .join(''),
  tokenString: (id) => (id < FAKE_VOCAB ? `▁${String.fromCharCode(95 + id)}` : undefined),
};

class FakeState implements DecodeState {
  readonly tokens: number[];
  cachedLength = 0;
  disposed = false;
  hints: Array<NextTokenHint | undefined> = [];
  private hint: NextTokenHint | undefined;

  constructor(
    readonly id: number,
    readonly encoded: EncodedInput,
    prompt: readonly number[],
    private readonly forkOf: (state: FakeState) => FakeState,
  ) {
    this.tokens = [...prompt];
  }

  fork(): DecodeState {
    if (this.disposed) throw new Error(`decode state ${this.id} is disposed`);
    return this.forkOf(this);
  }

  append(token: number): void {
    this.tokens.push(token);
  }

  rewind(n: number): void {
    this.tokens.length -= n;
    this.cachedLength = Math.min(this.cachedLength, this.tokens.length - 1);
  }

  expectNext(hint: NextTokenHint | undefined): void {
    this.hint = hint;
  }

  takeHint(): NextTokenHint | undefined {
    const hint = this.hint;
    this.hint = undefined;
    return hint;
  }

  dispose(): void {
    this.disposed = true;
  }
}

export class FakeModel implements ModelRuntime {
  readonly info: ModelInfo = {
    name: 'fake',
    dtype: 'fp32',
    decoderLayout: 'merged',
    config: {
      modelType: 't5',
      vocabSize: FAKE_VOCAB,
      feedForwardProj: 'relu',
      tieWordEmbeddings: true,
      padTokenId: 0,
      eosTokenId: FAKE_EOS,
      decoderStartTokenId: 0,
      dModel: 4,
      dKv: 2,
      dFf: 8,
      numLayers: 1,
      numDecoderLayers: 1,
      numHeads: 2,
      relativeAttentionNumBuckets: 32,
      relativeAttentionMaxDistance: 128,
      layerNormEpsilon: 1e-6,
    },
    generation: { decoderStartTokenId: 0, eosTokenIds: [FAKE_EOS], padTokenId: 0, settings: {} },
    vocabSize: FAKE_VOCAB,
    specialIds: { pad: 0, eos: FAKE_EOS, unk: undefined, decoderStart: 0 },
    maxInputLength: 64,
  };
  readonly tokenizer = fakeTokenizer;
  readonly status: ModelStatus = 'ready';
  /** Every step run: the history fed and the hint given with it. */
  readonly steps: Array<{ readonly history: readonly number[]; readonly hint: NextTokenHint | undefined }> = [];
  /** The number of states of every `step` call (one decoder run each). */
  readonly runs: number[] = [];
  private readonly states: FakeState[] = [];

  get liveStates(): number {
    return this.states.filter((state) => !state.disposed).length;
  }

  async encode(inputs: readonly (readonly number[])[]): Promise<EncodedInput[]> {
    return inputs.map((ids) => ({ inputIds: [...ids], hiddenStates: new Float32Array(ids.length * 4), encodeMs: 0.5 }));
  }

  createState(encoded: EncodedInput, decoderPrefix: readonly number[] = []): DecodeState {
    return this.newState(encoded, [0, ...decoderPrefix], 0);
  }

  private newState(encoded: EncodedInput, tokens: readonly number[], cachedLength: number): FakeState {
    const state = new FakeState(this.states.length + 1, encoded, tokens, (source) => this.newState(source.encoded, source.tokens, source.cachedLength));
    state.cachedLength = cachedLength;
    this.states.push(state);
    return state;
  }

  async step(states: readonly DecodeState[]): Promise<Float32Array[]> {
    this.runs.push(states.length);
    await new Promise((resolve) => setImmediate(resolve));
    return states.map((state) => {
      const own = state as FakeState;
      if (own.disposed) return new Float32Array(0);
      this.steps.push({ history: [...own.tokens], hint: own.takeHint() });
      own.cachedLength = own.tokens.length;
      return rowAfter(own.tokens);
    });
  }

  /** Each target's rows, as a step would return them after each of its prefixes. */
  async score(targets: readonly ScoreTarget[]): Promise<Float32Array[]> {
    await new Promise((resolve) => setImmediate(resolve));
    return targets.map(({ prefix = [], tokens }) => {
      const rows = new Float32Array(tokens.length * FAKE_VOCAB);
      tokens.forEach((_, i) => rows.set(rowAfter([0, ...prefix, ...tokens.slice(0, i)]), i * FAKE_VOCAB));
      return rows;
    });
  }

  onStatus(): () => void {
    return () => {};
  }

  async warmUp(): Promise<void> {}

  async dispose(): Promise<void> {
    this.states.forEach((state) => state.dispose());
  }
}

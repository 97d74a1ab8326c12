/**
 * The Stepwise runtime's per-step logits equal the independent T5 reference, for every tiny model
 * variant and both decoder layouts (merged file, split pair): single sequences, a batch with different
 * encoder lengths, a teacher-forced prefix longer than the exact-bucket range, and a rewind.
 *
 * The reference recomputes the whole history from scratch, so agreement here means the runtime's KV
 * cache, padding, batching and slicing change nothing but float32 rounding.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type DecodeState, type ModelRuntime } from '../../../src/runtime/index.js';
import { argmax } from '../../reference/reference-math.js';
import { T5Reference } from '../../reference/t5-reference.js';
import { ErrorLedger, inputIds, MAX_ABS_ERROR, maxAbsDifference, throughFirstEos } from './agreement.js';
import { modelVariants, paddedVariant } from './model-variants.js';

const INPUT_LENGTHS = [1, 5, 30];
const BATCH_INPUT_LENGTHS = [1, 7, 30];
const GREEDY_STEPS = 12;
/** Longer than the 16 exact decoder buckets, so the logarithmic ones are exercised through the cache. */
const PREFIX_LENGTH = 25;
const STEPS_BEFORE_REWIND = 8;
const REWOUND = 3;

const ledger = new ErrorLedger();
afterAll(() => console.info(`Runtime vs T5 reference (limit ${MAX_ABS_ERROR}):\n${ledger.summary()}`));

/** Greedy steps on `states` at once; returns a copy of every state's logits at every step. */
async function greedySteps(model: ModelRuntime, states: readonly DecodeState[], steps: number): Promise<Float32Array[][]> {
  const rows: Float32Array[][] = states.map(() => []);
  for (let step = 0; step < steps; step++) {
    const logits = await model.step(states);
    states.forEach((state, i) => {
      // The row is a view valid until the state's next step: keep a copy.
      rows[i]!.push(logits[i]!.slice());
      state.append(argmax(logits[i]!));
    });
  }
  return rows;
}

const layouts = ['merged', 'split'] as const;
const cases = modelVariants.flatMap((variant) => layouts.map((layout) => ({ ...variant, layout })));

describe.each(cases)('runtime on $name, $layout decoder', ({ name, dir, layout }) => {
  let reference: T5Reference;
  let model: ModelRuntime;
  const label = `${name} (${layout})`;

  beforeAll(async () => {
    reference = T5Reference.load(dir);
    model = await loadModel(dir, { decoderLayout: layout });
  });

  afterAll(async () => {
    await model?.dispose();
  });

  /**
   * Checks that `rows[t]` equals the reference's logits after `history[0..t]`, for `rows.length`
   * positions starting at `firstPosition`.
   */
  function expectReferenceRows(ids: readonly number[], history: readonly number[], rows: readonly Float32Array[], firstPosition = 0): void {
    const expected = reference.decoderLogits(reference.encode(ids), undefined, history);
    rows.forEach((row, t) => {
      const error = maxAbsDifference(row, expected[firstPosition + t]!);
      ledger.record(label, error);
      expect(error, `input of ${ids.length} ids, decoder position ${firstPosition + t}`).toBeLessThanOrEqual(MAX_ABS_ERROR);
    });
  }

  const idsOfLength = (length: number, seed = length): number[] =>
    inputIds(length, seed, model.tokenizer.size, model.info.specialIds.eos);

  it.each(INPUT_LENGTHS)(
    `greedy decode of an input of %i ids: every step's logits equal the reference within ${MAX_ABS_ERROR}, and so do the tokens`,
    async (length) => {
      const ids = idsOfLength(length);
      const [encoded] = await model.encode([ids]);
      const state = model.createState(encoded!);
      const [rows] = await greedySteps(model, [state], GREEDY_STEPS);
      expect(state.tokens).toHaveLength(GREEDY_STEPS + 1);
      expectReferenceRows(ids, state.tokens, rows!);
      expect(throughFirstEos(state.tokens.slice(1), model.info.specialIds.eos)).toEqual(reference.greedy(ids, GREEDY_STEPS));
      state.dispose();
    },
  );

  it(`a batch of ${BATCH_INPUT_LENGTHS.length} inputs with different lengths, encoded and stepped together: each row equals the reference within ${MAX_ABS_ERROR}`, async () => {
    const inputs = BATCH_INPUT_LENGTHS.map((length) => idsOfLength(length, 100 + length));
    const encoded = await model.encode(inputs);
    const states = encoded.map((input) => model.createState(input));
    const rows = await greedySteps(model, states, GREEDY_STEPS);
    states.forEach((state, i) => {
      expectReferenceRows(inputs[i]!, state.tokens, rows[i]!);
      state.dispose();
    });
  });

  it(`after a teacher-forced prefix of ${PREFIX_LENGTH} tokens the logits equal the reference within ${MAX_ABS_ERROR}`, async () => {
    const ids = idsOfLength(12);
    const prefix = idsOfLength(PREFIX_LENGTH + 1, 7).slice(0, PREFIX_LENGTH);
    const [encoded] = await model.encode([ids]);
    const state = model.createState(encoded!, prefix);
    const [rows] = await greedySteps(model, [state], 4);
    expectReferenceRows(ids, state.tokens, rows!, PREFIX_LENGTH);
    state.dispose();
  });

  it(`after rewinding ${REWOUND} of ${STEPS_BEFORE_REWIND} generated tokens and forcing another, the logits equal the reference within ${MAX_ABS_ERROR}`, async () => {
    const ids = idsOfLength(9);
    const [encoded] = await model.encode([ids]);
    const state = model.createState(encoded!);
    await greedySteps(model, [state], STEPS_BEFORE_REWIND);
    state.rewind(REWOUND);
    const firstPosition = state.tokens.length - 1;
    const afterRewind = (await model.step([state]))[0]!.slice();
    // Force a token other than the greedy one that was rewound away, so a stale cache entry would show.
    state.append((argmax(afterRewind) + 1) % model.info.vocabSize);
    const [rows] = await greedySteps(model, [state], 3);
    expect(state.tokens).toHaveLength(STEPS_BEFORE_REWIND + 1 - REWOUND + 4);
    expectReferenceRows(ids, state.tokens, [afterRewind, ...rows!], firstPosition);
    state.dispose();
  });
});

describe(`runtime on the padded-vocabulary model`, () => {
  let reference: T5Reference;
  let model: ModelRuntime;

  beforeAll(async () => {
    reference = T5Reference.load(paddedVariant.dir);
    model = await loadModel(paddedVariant.dir);
  });

  afterAll(async () => {
    await model?.dispose();
  });

  it('logits are config vocab_size wide, wider than the tokenizer', () => {
    expect(model.info.vocabSize).toBe(reference.config.vocabSize);
    expect(model.info.vocabSize).toBeGreaterThan(model.tokenizer.size);
  });

  it(`with an id beyond the tokenizer forced first, the logits of every greedy step equal the reference within ${MAX_ABS_ERROR}`, async () => {
    const ids = inputIds(10, 3, model.tokenizer.size, model.info.specialIds.eos);
    const [encoded] = await model.encode([ids]);
    // Ids in [tokenizer size, vocab_size) have embeddings and may be forced like any other.
    const state = model.createState(encoded!, [model.info.vocabSize - 1]);
    const [rows] = await greedySteps(model, [state], GREEDY_STEPS);
    const expected = reference.decoderLogits(reference.encode(ids), undefined, state.tokens);
    rows!.forEach((row, t) => {
      expect(row).toHaveLength(reference.config.vocabSize);
      // Row t follows the start token, the forced id and t generated tokens.
      const error = maxAbsDifference(row, expected[t + 1]!);
      ledger.record(paddedVariant.name, error);
      expect(error, `decoder position ${t + 1}`).toBeLessThanOrEqual(MAX_ABS_ERROR);
    });
    state.dispose();
  });
});

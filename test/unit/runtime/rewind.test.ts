/**
 * Rewinding cuts the decoder history and its self-attention cache back; decoding then continues
 * exactly as a fresh decode of the shorter history would.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadModel, OutOfRangeError, type ModelRuntime } from '../../../src/runtime/index.js';
import { expectRowsClose, tinyModels, greedyDecode, stateForText } from './runtime-test-kit.js';

const TEXT = 'summarize: the cat sat on the mat and looked at the dog.';

describe('rewind', () => {
  let model: ModelRuntime;

  beforeAll(async () => {
    model = await loadModel(tinyModels.gatedUntied);
  });
  afterAll(async () => {
    await model.dispose();
  });

  it('rewind then continue equals a fresh decode of the kept tokens', async () => {
    const fresh = await greedyDecode(model, await stateForText(model, TEXT), 10);

    const state = await stateForText(model, TEXT);
    await greedyDecode(model, state, 8);
    state.rewind(5); // keeps the start token and the first 3 generated tokens
    expect(state.tokens).toEqual([model.info.specialIds.decoderStart, ...fresh.tokens.slice(0, 3)]);
    expect(state.cachedLength).toBe(3);

    const [row] = await model.step([state]);
    expectRowsClose(row!, fresh.rows[3]!);
    // A different token than before, then the cache keeps growing from the cut point.
    const forced = (fresh.tokens[3]! + 1) % model.info.vocabSize;
    state.append(forced);
    const [afterForced] = await model.step([state]);

    const reference = await stateForText(model, TEXT, [...fresh.tokens.slice(0, 3), forced]);
    const [expected] = await model.step([reference]);
    expectRowsClose(afterForced!, expected!);
    state.dispose();
    reference.dispose();
  });

  it.each([1, 4])(
    'with keepLastCached, taking back a stepped token at position %i keeps the cache whole: the next token runs alone, bit for bit as if never taken',
    async (kept) => {
      const fresh = await greedyDecode(model, await stateForText(model, TEXT), kept + 2);
      const state = await stateForText(model, TEXT);
      await greedyDecode(model, state, kept);
      await model.step([state]); // the logits after the kept tokens, as a client sees them before deciding
      const other = (fresh.tokens[kept]! + 1) % model.info.vocabSize;
      state.append(other);
      await model.step([state]);
      state.rewind(1, { keepLastCached: true });
      expect(state.tokens).toEqual([model.info.specialIds.decoderStart, ...fresh.tokens.slice(0, kept)]);
      expect(state.cachedLength).toBe(kept + 1);
      state.append(fresh.tokens[kept]!);
      const [row] = await model.step([state]);
      expect(state.cachedLength).toBe(kept + 2);
      expect(Buffer.from(row!.buffer, row!.byteOffset, row!.byteLength)).toEqual(
        Buffer.from(fresh.rows[kept + 1]!.buffer, fresh.rows[kept + 1]!.byteOffset, fresh.rows[kept + 1]!.byteLength),
      );
      state.dispose();
    },
  );

  it('rewinding every generated token goes back to the first step', async () => {
    const fresh = await greedyDecode(model, await stateForText(model, TEXT), 4);
    const state = await stateForText(model, TEXT);
    await greedyDecode(model, state, 4);
    state.rewind(4);
    expect(state.tokens).toEqual([model.info.specialIds.decoderStart]);
    expect(state.cachedLength).toBe(0);
    const continued = await greedyDecode(model, state, 4);
    expect(continued.tokens).toEqual(fresh.tokens);
    continued.rows.forEach((row, step) => expectRowsClose(row, fresh.rows[step]!));
    state.dispose();
  });

  it('rewinding tokens appended but not yet stepped only drops them', async () => {
    const fresh = await greedyDecode(model, await stateForText(model, TEXT), 3);
    const state = await stateForText(model, TEXT);
    await greedyDecode(model, state, 2); // tokens: start, t0, t1 (t1 pending)
    state.append(7);
    state.append(9);
    state.rewind(2);
    expect(state.cachedLength).toBe(2);
    const [row] = await model.step([state]);
    expectRowsClose(row!, fresh.rows[2]!);
    state.dispose();
  });

  it('rewind(0) changes nothing', async () => {
    const state = await stateForText(model, TEXT);
    await greedyDecode(model, state, 2);
    const before = [...state.tokens];
    state.rewind(0);
    expect(state.tokens).toEqual(before);
    state.dispose();
  });

  it('rewinding past the decoder start token is an OutOfRangeError naming n and the allowed range', async () => {
    const state = await stateForText(model, TEXT);
    await greedyDecode(model, state, 3);
    expect(() => state.rewind(4)).toThrow(OutOfRangeError);
    expect(() => state.rewind(4)).toThrow('`n` must be in [0, 3] (the tokens after the decoder start token); given 4');
    expect(() => state.rewind(-1)).toThrow('given -1');
    expect(state.tokens).toHaveLength(4);
    state.dispose();
  });
});

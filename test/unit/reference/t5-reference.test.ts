/**
 * Properties the T5 reference must have on its own, before it is trusted as a yardstick: masking
 * hides padding exactly, the decoder is causal, and bad input is refused with a precise message.
 */
import { describe, expect, it } from 'vitest';
import { tinyModels } from '../../fixtures/models.js';
import { argmax } from '../../reference/reference-math.js';
import { T5Reference } from '../../reference/t5-reference.js';
import { inputIds, maxAbsDifference } from './agreement.js';

/** Float64 arithmetic in a different order (more keys, all masked to zero weight) stays this close. */
const FLOAT64_NOISE = 1e-12;

describe('T5Reference', () => {
  const reference = T5Reference.load(tinyModels.gatedUntied);
  const { vocabSize, eosTokenId, dModel } = reference.config;

  it('encoder: padding positions hidden by the mask leave the other positions unchanged', () => {
    const ids = inputIds(9, 1, vocabSize, eosTokenId);
    const padded = [...ids, 0, 0, 0, 0];
    const mask = padded.map((_, i) => (i < ids.length ? 1 : 0));
    const unpadded = reference.encode(ids);
    const masked = reference.encode(padded, mask);
    expect(maxAbsDifference(masked.data.subarray(0, ids.length * dModel), unpadded.data)).toBeLessThanOrEqual(FLOAT64_NOISE);
  });

  it('decoder: cross-attention ignores encoder positions hidden by the mask', () => {
    const ids = inputIds(6, 2, vocabSize, eosTokenId);
    const decoderIds = [0, 17, 42];
    const unpaddedLogits = reference.decoderLogits(reference.encode(ids), undefined, decoderIds);
    const padded = [...ids, 0, 0, 0];
    const mask = padded.map((_, i) => (i < ids.length ? 1 : 0));
    const paddedLogits = reference.decoderLogits(reference.encode(padded, mask), mask, decoderIds);
    paddedLogits.forEach((row, t) => expect(maxAbsDifference(row, unpaddedLogits[t]!)).toBeLessThanOrEqual(FLOAT64_NOISE));
  });

  it('decoder: the logits at a position do not depend on later decoder tokens (causal mask)', () => {
    const encoded = reference.encode(inputIds(7, 3, vocabSize, eosTokenId));
    const short = reference.decoderLogits(encoded, undefined, [0, 11, 12]);
    const long = reference.decoderLogits(encoded, undefined, [0, 11, 12, 13, 14, 15]);
    short.forEach((row, t) => expect(maxAbsDifference(long[t]!, row)).toBe(0));
    // …and later tokens do change later positions, so the comparison above is not vacuous.
    const changed = reference.decoderLogits(encoded, undefined, [0, 11, 12, 99, 14, 15]);
    expect(maxAbsDifference(changed[4]!, long[4]!)).toBeGreaterThan(1e-3);
  });

  it('returns one logits row of vocab_size values per decoder position', () => {
    const rows = reference.decoderLogits(reference.encode([5, eosTokenId]), undefined, [0, 7, 8, 9]);
    expect(rows).toHaveLength(4);
    for (const row of rows) expect(row).toHaveLength(vocabSize);
  });

  it('greedy picks, at every step, the argmax of the full-recompute logits of its own history', () => {
    const ids = inputIds(5, 4, vocabSize, eosTokenId);
    const tokens = reference.greedy(ids, 6);
    const rows = reference.decoderLogits(reference.encode(ids), undefined, [reference.config.decoderStartTokenId, ...tokens]);
    tokens.forEach((token, t) => expect(token, `step ${t}`).toBe(argmax(rows[t]!)));
    // Without EOS among them, exactly maxNewTokens are produced.
    expect(tokens.slice(0, -1)).not.toContain(eosTokenId);
    expect(tokens.includes(eosTokenId) || tokens.length === 6).toBe(true);
  });

  it('rejects a token id outside [0, vocab_size), naming the position and the range', () => {
    expect(() => reference.encode([3, vocabSize])).toThrow(`token id at position 1 must be an integer in [0, ${vocabSize}); given ${vocabSize}`);
  });

  it('rejects a mask whose length differs from the sequence', () => {
    expect(() => reference.encode([3, 4, 1], [1, 1])).toThrow('encoder mask has 2 entries; the sequence has 3');
  });
});

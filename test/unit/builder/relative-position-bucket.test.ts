import { describe, expect, it } from 'vitest';
import {
  bidirectionalBucketTable,
  causalBucketTable,
  relativePositionBucket,
} from '../../../src/builder/relative-position-bucket.js';

// Expected buckets for num_buckets 32, max_distance 128, as [first, last, bucket] runs.
const encoderBefore: Array<[number, number, number]> = [
  [-8, -11, 8], [-12, -15, 9], [-16, -22, 10], [-23, -31, 11], [-32, -45, 12], [-46, -63, 13], [-64, -90, 14], [-91, -2000, 15],
];
const encoderAfter: Array<[number, number, number]> = [
  [8, 11, 24], [12, 15, 25], [16, 22, 26], [23, 31, 27], [32, 45, 28], [46, 63, 29], [64, 90, 30], [91, 2000, 31],
];
// Decoder distances as numpy evaluates the quoted formula (float32 log, truncation toward zero).
const decoderDistances: Array<[number, number, number]> = [
  [16, 18, 16], [19, 20, 17], [21, 23, 18], [24, 26, 19], [27, 30, 20], [31, 34, 21], [35, 39, 22], [40, 45, 23],
  [46, 51, 24], [52, 58, 25], [59, 66, 26], [67, 76, 27], [77, 86, 28], [87, 98, 29], [99, 112, 30], [113, 2000, 31],
];

function* span(first: number, last: number): Generator<number> {
  const step = last >= first ? 1 : -1;
  for (let value = first; value !== last + step; value += step) yield value;
}

const bidirectional = (rel: number) => relativePositionBucket(rel, true, 32, 128);
const causal = (distance: number) => relativePositionBucket(-distance, false, 32, 128);

describe('relativePositionBucket (32 buckets, max distance 128)', () => {
  it('gives encoder keys 0..7 positions before the query their exact distance as bucket', () => {
    for (const rel of span(0, -7)) expect(bidirectional(rel)).toBe(Math.abs(rel));
  });

  it('gives encoder keys 1..7 positions after the query buckets 17..23', () => {
    for (const rel of span(1, 7)) expect(bidirectional(rel)).toBe(16 + rel);
  });

  it('puts farther encoder keys in the logarithmic buckets of the reference table', () => {
    for (const [first, last, bucket] of [...encoderBefore, ...encoderAfter]) {
      for (const rel of span(first, last)) expect(bidirectional(rel), `rel ${rel}`).toBe(bucket);
    }
  });

  it('gives decoder distances 0..15 their exact distance and farther ones the logarithmic buckets', () => {
    for (const distance of span(0, 15)) expect(causal(distance)).toBe(distance);
    for (const [first, last, bucket] of decoderDistances) {
      for (const distance of span(first, last)) expect(causal(distance), `distance ${distance}`).toBe(bucket);
    }
  });

  it('puts future decoder keys in bucket 0', () => {
    for (const distance of span(-1, -300)) expect(causal(distance)).toBe(0);
  });
});

describe('bucket lookup tables', () => {
  it('equal the formula at every relative position once it is clipped to ±max_distance', () => {
    const table = bidirectionalBucketTable(32, 128);
    expect(table.length).toBe(257);
    for (const rel of span(-1000, 1000)) {
      const clipped = Math.min(Math.max(rel, -128), 128);
      expect(Number(table[clipped + 128]), `rel ${rel}`).toBe(bidirectional(rel));
    }
  });

  it('equal the causal formula at every distance once it is clipped to [0, max_distance]', () => {
    const table = causalBucketTable(32, 128);
    expect(table.length).toBe(129);
    for (const distance of span(-1000, 1000)) {
      const clipped = Math.min(Math.max(distance, 0), 128);
      expect(Number(table[clipped]), `distance ${distance}`).toBe(causal(distance));
    }
  });

  it('hold for other bucket counts and distances too (t5 v1.1 variants use the same formula)', () => {
    for (const [buckets, maxDistance] of [[16, 64], [32, 64], [64, 256]] as const) {
      const table = bidirectionalBucketTable(buckets, maxDistance);
      for (const rel of span(-3 * maxDistance, 3 * maxDistance)) {
        const clipped = Math.min(Math.max(rel, -maxDistance), maxDistance);
        expect(Number(table[clipped + maxDistance])).toBe(relativePositionBucket(rel, true, buckets, maxDistance));
      }
    }
  });
});

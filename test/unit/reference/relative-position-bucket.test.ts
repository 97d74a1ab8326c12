/**
 * The reference's bucket function against tables for T5's defaults (32 buckets, max distance 128).
 *
 * The encoder table is the one in docs onnx-layout.md §7. The decoder table there is shifted by one
 * distance from Hugging Face's formula (it gives bucket 17 to d = 18, where
 * 16 + trunc(ln(18/16) / ln(8) · 16) = 16 + trunc(0.906) = 16), so the decoder rows below were
 * recomputed from the formula with numpy in float32 and float64 (identical for d < 3000).
 */
import { describe, expect, it } from 'vitest';
import { relativePositionBucket } from '../../reference/relative-position-bucket.js';

const NUM_BUCKETS = 32;
const MAX_DISTANCE = 128;
/** How far past the last listed edge the open-ended rows ("≥ 91") are checked. */
const OPEN_END = 2000;

/** One table row: every value in `[from, to]` maps to `bucket` (or to `bucket + (value − from)` when `exact`). */
interface BucketRow {
  readonly from: number;
  readonly to: number;
  readonly bucket: number;
  readonly exact?: boolean;
}

function expectRows(rows: readonly BucketRow[], bucketOf: (value: number) => number): void {
  for (const row of rows) {
    for (let value = row.from; value <= row.to; value++) {
      const expected = row.exact ? row.bucket + (value - row.from) : row.bucket;
      expect(bucketOf(value), `value ${value} (row ${row.from}…${row.to})`).toBe(expected);
    }
  }
}

describe('relativePositionBucket, bidirectional (encoder), 32 buckets, max distance 128', () => {
  const bucketOf = (rel: number): number => relativePositionBucket(rel, true, NUM_BUCKETS, MAX_DISTANCE);

  it('maps keys at or before the query (rel = key − query ≤ 0) by distance |rel| to buckets 0…15', () => {
    // Rows over the distance d = −rel.
    expectRows(
      [
        { from: 0, to: 7, bucket: 0, exact: true },
        { from: 8, to: 11, bucket: 8 },
        { from: 12, to: 15, bucket: 9 },
        { from: 16, to: 22, bucket: 10 },
        { from: 23, to: 31, bucket: 11 },
        { from: 32, to: 45, bucket: 12 },
        { from: 46, to: 63, bucket: 13 },
        { from: 64, to: 90, bucket: 14 },
        { from: 91, to: OPEN_END, bucket: 15 },
      ],
      (distance) => bucketOf(-distance),
    );
  });

  it('maps keys after the query (rel > 0) to buckets 17…31', () => {
    expectRows(
      [
        { from: 1, to: 7, bucket: 17, exact: true },
        { from: 8, to: 11, bucket: 24 },
        { from: 12, to: 15, bucket: 25 },
        { from: 16, to: 22, bucket: 26 },
        { from: 23, to: 31, bucket: 27 },
        { from: 32, to: 45, bucket: 28 },
        { from: 46, to: 63, bucket: 29 },
        { from: 64, to: 90, bucket: 30 },
        { from: 91, to: OPEN_END, bucket: 31 },
      ],
      bucketOf,
    );
  });
});

describe('relativePositionBucket, causal (decoder), 32 buckets, max distance 128', () => {
  const bucketOfDistance = (distance: number): number => relativePositionBucket(-distance, false, NUM_BUCKETS, MAX_DISTANCE);

  it('maps past keys by distance d = query − key to buckets 0…31', () => {
    expectRows(
      [
        { from: 0, to: 15, bucket: 0, exact: true },
        { from: 16, to: 18, bucket: 16 },
        { from: 19, to: 20, bucket: 17 },
        { from: 21, to: 23, bucket: 18 },
        { from: 24, to: 26, bucket: 19 },
        { from: 27, to: 30, bucket: 20 },
        { from: 31, to: 34, bucket: 21 },
        { from: 35, to: 39, bucket: 22 },
        { from: 40, to: 45, bucket: 23 },
        { from: 46, to: 51, bucket: 24 },
        { from: 52, to: 58, bucket: 25 },
        { from: 59, to: 66, bucket: 26 },
        { from: 67, to: 76, bucket: 27 },
        { from: 77, to: 86, bucket: 28 },
        { from: 87, to: 98, bucket: 29 },
        { from: 99, to: 112, bucket: 30 },
        { from: 113, to: OPEN_END, bucket: 31 },
      ],
      bucketOfDistance,
    );
  });

  it('maps every future key (d < 0) to bucket 0', () => {
    expectRows([{ from: -OPEN_END, to: -1, bucket: 0 }], bucketOfDistance);
  });
});

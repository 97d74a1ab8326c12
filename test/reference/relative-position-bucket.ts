/**
 * T5's relative position buckets, transcribed from Hugging Face `T5Attention._relative_position_bucket`.
 *
 * Small distances get a bucket each; larger ones share logarithmically wider buckets up to
 * `maxDistance`, beyond which everything falls into the last bucket. Bidirectional (encoder) attention
 * spends half of the buckets on keys after the query; causal (decoder) attention maps every future key
 * to bucket 0 (those keys are masked anyway).
 *
 * The large-distance branch follows torch's arithmetic: float32 division and log (`Math.fround` after
 * each operation) and truncation towards zero by `.to(torch.long)`. Bucket edges fall where that
 * arithmetic puts them, so float64 arithmetic could move an edge by one.
 */

/**
 * @param relativePosition key position − query position
 * @param bidirectional true for the encoder's self-attention, false for the decoder's
 */
export function relativePositionBucket(
  relativePosition: number,
  bidirectional: boolean,
  numBuckets: number,
  maxDistance: number,
): number {
  let bucket = 0;
  let buckets = numBuckets;
  let distance: number;
  if (bidirectional) {
    buckets = Math.floor(buckets / 2);
    if (relativePosition > 0) bucket += buckets;
    distance = Math.abs(relativePosition);
  } else {
    distance = -Math.min(relativePosition, 0);
  }
  const maxExact = Math.floor(buckets / 2);
  if (distance < maxExact) return bucket + distance;

  const f32 = Math.fround;
  const logRatio = f32(Math.log(f32(f32(distance) / maxExact)));
  // `math.log(max_distance / max_exact)` is a Python double; torch casts it to float32 for the division.
  const logRange = f32(Math.log(maxDistance / maxExact));
  const scaled = f32(f32(logRatio / logRange) * (buckets - maxExact));
  const large = Math.min(maxExact + Math.trunc(scaled), buckets - 1);
  return bucket + large;
}

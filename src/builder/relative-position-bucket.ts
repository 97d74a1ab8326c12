/**
 * T5's relative-position buckets (Hugging Face `T5Attention._relative_position_bucket`), evaluated in
 * float32 like torch, and the lookup tables the ONNX graphs index instead of recomputing the formula.
 */

/**
 * The bucket of one relative position `rel = key_position - query_position`.
 * Bidirectional (encoder): half the buckets for keys before the query, half for keys after it.
 * Causal (decoder): only the distance to earlier keys counts; future keys fall in bucket 0 (they are
 * masked anyway).
 */
export function relativePositionBucket(
  rel: number,
  bidirectional: boolean,
  numBuckets: number,
  maxDistance: number,
): number {
  let buckets = numBuckets;
  let bucket = 0;
  let distance: number;
  if (bidirectional) {
    buckets = Math.floor(buckets / 2);
    if (rel > 0) bucket += buckets;
    distance = Math.abs(rel);
  } else {
    distance = -Math.min(rel, 0);
  }
  const maxExact = Math.floor(buckets / 2);
  if (distance < maxExact) return bucket + distance;
  // torch computes this in float32 (`relative_position.float()`), then truncates with `.to(long)`.
  const f = Math.fround;
  const ratio = f(f(Math.log(f(f(distance) / maxExact))) / f(Math.log(maxDistance / maxExact)));
  const large = maxExact + Math.trunc(f(ratio * (buckets - maxExact)));
  return bucket + Math.min(large, buckets - 1);
}

/**
 * Bucket of every relative position in `[-maxDistance, maxDistance]`, indexed by `rel + maxDistance`.
 * The formula saturates: every |rel| >= maxDistance lands in the last bucket of its side (log(rel/maxExact)
 * / log(maxDistance/maxExact) >= 1 there), so clipping `rel` to this range before the lookup gives
 * exactly the formula's bucket for any distance.
 */
export function bidirectionalBucketTable(numBuckets: number, maxDistance: number): BigInt64Array {
  const table = new BigInt64Array(2 * maxDistance + 1);
  for (let rel = -maxDistance; rel <= maxDistance; rel++) {
    table[rel + maxDistance] = BigInt(relativePositionBucket(rel, true, numBuckets, maxDistance));
  }
  return table;
}

/**
 * Causal bucket of every distance `query - key` in `[0, maxDistance]`, indexed by the distance. Negative
 * distances (future keys) clip to 0, whose bucket is 0 as in the formula; distances beyond maxDistance
 * clip to maxDistance, whose bucket is the saturated last one.
 */
export function causalBucketTable(numBuckets: number, maxDistance: number): BigInt64Array {
  const table = new BigInt64Array(maxDistance + 1);
  for (let distance = 0; distance <= maxDistance; distance++) {
    table[distance] = BigInt(relativePositionBucket(-distance, false, numBuckets, maxDistance));
  }
  return table;
}

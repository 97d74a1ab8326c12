/**
 * A counter-based random generator: each draw is a pure function of (seed, stream, step), so a stream's
 * sampled tokens do not depend on how steps were batched, on other streams, on rewinds or on call order.
 * The mixing function is SplitMix64's finaliser (Steele, Lea & Flood 2014), chained over the three inputs;
 * fast and well distributed, not cryptographic.
 */

const MASK_64 = (1n << 64n) - 1n;

function mix64(value: bigint): bigint {
  let z = (value + 0x9e3779b97f4a7c15n) & MASK_64;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK_64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK_64;
  return z ^ (z >> 31n);
}

/** A uniform number in [0, 1) with 53 random bits, determined by (seed, stream, step) alone. */
export function counterUniform(seed: bigint, stream: bigint, step: number): number {
  const mixed = mix64(mix64(mix64(seed & MASK_64) ^ (stream & MASK_64)) ^ BigInt(step));
  return Number(mixed >> 11n) / 2 ** 53;
}

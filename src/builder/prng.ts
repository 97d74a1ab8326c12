/**
 * A small seeded pseudo-random generator, so that the same seed always yields byte-identical weights
 * on every machine (Math.random cannot be seeded).
 */

/** mulberry32: 32-bit state, full period 2^32, good enough to fill weight matrices. */
export class SeededRandom {
  private state: number;
  /** Box-Muller produces normals in pairs; the second one is kept for the next call. */
  private spareNormal: number | undefined;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in (0, 1): never exactly 0, so `Math.log` below stays finite. */
  uniform(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const bits = (t ^ (t >>> 14)) >>> 0;
    return (bits + 0.5) / 4294967296;
  }

  /** Standard normal (mean 0, standard deviation 1), by the Box-Muller transform. */
  normal(): number {
    if (this.spareNormal !== undefined) {
      const spare = this.spareNormal;
      this.spareNormal = undefined;
      return spare;
    }
    const radius = Math.sqrt(-2 * Math.log(this.uniform()));
    const angle = 2 * Math.PI * this.uniform();
    this.spareNormal = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  }

  /** Fills `out` with `mean + std * normal()`. */
  fillNormal(out: Float32Array, std: number, mean = 0): Float32Array {
    for (let i = 0; i < out.length; i++) out[i] = mean + std * this.normal();
    return out;
  }
}

/**
 * IEEE 754 binary16 ("float16") as 16-bit patterns, for the places that meet it without a `Float16Array`
 * (Node 20 has none): the model builder writes float16 weights, and the runtime turns a float16 logits row
 * into a `Float32Array`. Widening is exact (every binary16 value is a binary32 value), so rounding a
 * widened value back to binary16 gives the original bits for every value but NaN (which stays a NaN).
 */

const float32 = new Float32Array(1);
const float32Bits = new Uint32Array(float32.buffer);

/** A number → binary16 bits: rounded first to binary32, then to nearest, ties to even; ±Infinity on overflow. */
export function float16BitsOf(value: number): number {
  float32[0] = value;
  return float16BitsOfFloat32Bits(float32Bits[0]!);
}

/** Binary32 bits → binary16 bits (round to nearest, ties to even; subnormals kept; NaN stays a quiet NaN). */
export function float16BitsOfFloat32Bits(bits: number): number {
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa !== 0 ? 0x200 | (mantissa >>> 13) : 0);
  const halfExponent = exponent - 127 + 15;
  if (halfExponent >= 0x1f) return sign | 0x7c00;
  if (halfExponent <= 0) {
    if (halfExponent < -10) return sign;
    return sign | roundShift(mantissa | 0x800000, 14 - halfExponent);
  }
  // A carry out of the mantissa bumps the exponent, as it should (up to Infinity).
  return sign | ((halfExponent << 10) + roundShift(mantissa, 13));
}

function roundShift(value: number, shift: number): number {
  const kept = value >>> shift;
  const rest = value & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  return rest > half || (rest === half && (kept & 1) === 1) ? kept + 1 : kept;
}

/** Binary16 bits → the number they encode (exact). */
export function float16Value(half: number): number {
  const sign = half & 0x8000 ? -1 : 1;
  const exponent = (half >>> 10) & 0x1f;
  const mantissa = half & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

let widening: Float32Array | undefined;

/** Every binary16 pattern widened, built on first use (256 KiB): widening a row is one lookup per entry. */
function wideningTable(): Float32Array {
  if (widening === undefined) {
    widening = new Float32Array(0x10000);
    for (let half = 0; half < 0x10000; half++) widening[half] = float16Value(half);
  }
  return widening;
}

/** Widens `halves` into `out` (same length; allocated when not given) and returns it. */
export function widenFloat16(halves: Uint16Array, out: Float32Array = new Float32Array(halves.length)): Float32Array {
  const table = wideningTable();
  for (let i = 0; i < halves.length; i++) out[i] = table[halves[i]!]!;
  return out;
}

/** Narrows `values` to binary16 bits (round to nearest, ties to even) into `out` and returns it. */
export function narrowToFloat16(values: Float32Array, out: Uint16Array = new Uint16Array(values.length)): Uint16Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  for (let i = 0; i < bits.length; i++) out[i] = float16BitsOfFloat32Bits(bits[i]!);
  return out;
}

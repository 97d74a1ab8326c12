/**
 * The few dense operations the T5 reference needs, as plain loops in float64.
 *
 * Float64 accumulation keeps the reference closer to the exact result than any float32 runtime, so
 * a runtime's float32 rounding shows up as a small, bounded difference (around 1e-6 on the tiny models)
 * rather than as noise shared by both sides.
 */

/** A row-major `[rows, cols]` matrix of activations (one row per sequence position). */
export interface Activations {
  readonly rows: number;
  readonly cols: number;
  readonly data: Float64Array;
}

/** A row-major `[rows, cols]` float32 weight, as stored in `model.safetensors`. */
export interface Weight {
  readonly rows: number;
  readonly cols: number;
  readonly data: Float32Array;
}

export function activations(rows: number, cols: number): Activations {
  return { rows, cols, data: new Float64Array(rows * cols) };
}

/** `x @ W.T` — a bias-free `nn.Linear` whose weight is `[out, in]`. */
export function linear(x: Activations, weight: Weight): Activations {
  if (x.cols !== weight.cols) throw new Error(`linear: input width ${x.cols} does not match weight [${weight.rows}, ${weight.cols}]`);
  const out = activations(x.rows, weight.rows);
  for (let r = 0; r < x.rows; r++) {
    const xOffset = r * x.cols;
    for (let o = 0; o < weight.rows; o++) {
      const wOffset = o * weight.cols;
      let sum = 0;
      for (let i = 0; i < x.cols; i++) sum += x.data[xOffset + i]! * weight.data[wOffset + i]!;
      out.data[r * out.cols + o] = sum;
    }
  }
  return out;
}

/** T5LayerNorm: `w * x / sqrt(mean(x²) + eps)` per row — no mean subtraction, no bias. */
export function rmsNorm(x: Activations, weight: Float32Array, epsilon: number): Activations {
  const out = activations(x.rows, x.cols);
  for (let r = 0; r < x.rows; r++) {
    const offset = r * x.cols;
    let sumOfSquares = 0;
    for (let i = 0; i < x.cols; i++) sumOfSquares += x.data[offset + i]! ** 2;
    const inverseRms = 1 / Math.sqrt(sumOfSquares / x.cols + epsilon);
    for (let i = 0; i < x.cols; i++) out.data[offset + i] = weight[i]! * x.data[offset + i]! * inverseRms;
  }
  return out;
}

/** `target += delta`, element-wise (the residual connections). */
export function addInPlace(target: Activations, delta: Activations): void {
  for (let i = 0; i < target.data.length; i++) target.data[i]! += delta.data[i]!;
}

/** `a *= b`, element-wise (the gate of the gated feed-forward). */
export function multiplyInPlace(target: Activations, factor: Activations): void {
  for (let i = 0; i < target.data.length; i++) target.data[i]! *= factor.data[i]!;
}

export function scaleInPlace(target: Activations, factor: number): void {
  for (let i = 0; i < target.data.length; i++) target.data[i]! *= factor;
}

export function reluInPlace(x: Activations): void {
  for (let i = 0; i < x.data.length; i++) if (x.data[i]! < 0) x.data[i] = 0;
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** `gelu_new` (Hugging Face `NewGELUActivation`): the tanh approximation of GELU. */
export function geluNewInPlace(x: Activations): void {
  for (let i = 0; i < x.data.length; i++) {
    const v = x.data[i]!;
    x.data[i] = 0.5 * v * (1 + Math.tanh(SQRT_2_OVER_PI * (v + 0.044715 * v ** 3)));
  }
}

/** Softmax over `values[offset, offset + length)`, in place, shifted by the maximum for stability. */
export function softmaxInPlace(values: Float64Array, offset: number, length: number): void {
  let max = -Infinity;
  for (let i = 0; i < length; i++) max = Math.max(max, values[offset + i]!);
  let sum = 0;
  for (let i = 0; i < length; i++) {
    const e = Math.exp(values[offset + i]! - max);
    values[offset + i] = e;
    sum += e;
  }
  for (let i = 0; i < length; i++) values[offset + i]! /= sum;
}

/** Index of the largest value; ties go to the first index (as in transformers.js `max`). */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

/**
 * The runtime driven directly (no server, batch of one), as the reference the server's streams must equal:
 * the logits of each step for a given sequence, and a greedy decode.
 */
import { expect } from 'vitest';
import type { Tensor } from '../../src/gen/stepwise/v1/stepwise.js';
import { DataType } from '../../src/gen/stepwise/v1/stepwise.js';
import type { ModelRuntime } from '../../src/runtime/types.js';

/** A copy of the float32 values a tensor carries. */
export function tensorValues(tensor: Tensor | undefined): Float32Array {
  if (tensor === undefined) throw new Error('expected a tensor, got none');
  if (tensor.dtype !== DataType.DATA_TYPE_FLOAT32) throw new Error(`expected float32, got dtype ${tensor.dtype}`);
  const bytes = Uint8Array.from(tensor.data);
  return new Float32Array(bytes.buffer);
}

/** The bytes of a row as little-endian float32 (what the server must send for it). */
export function rowBytes(row: Float32Array): Buffer {
  return Buffer.from(Float32Array.from(row).buffer);
}

/**
 * The runtime's logits at every step of decoding `tokens` after the decoder prompt: row k is the logits
 * before `tokens[k]` (and the last row the logits after the last token). Rows are copies.
 */
export async function runtimeStepLogits(
  model: ModelRuntime,
  inputIds: readonly number[],
  tokens: readonly number[],
  decoderPrefix: readonly number[] = [],
): Promise<Float32Array[]> {
  const [encoded] = await model.encode([inputIds]);
  const state = model.createState(encoded!, decoderPrefix);
  const rows: Float32Array[] = [];
  try {
    for (let k = 0; k <= tokens.length; k++) {
      const [row] = await model.step([state]);
      rows.push(Float32Array.from(row!));
      if (k < tokens.length) state.append(tokens[k]!);
    }
  } finally {
    state.dispose();
  }
  return rows;
}

/** Greedy decoding with the runtime alone: the tokens (ending at EOS or `maxNewTokens`) and each step's logits. */
export async function runtimeGreedy(
  model: ModelRuntime,
  inputIds: readonly number[],
  maxNewTokens: number,
  decoderPrefix: readonly number[] = [],
): Promise<{ tokens: number[]; logits: Float32Array[] }> {
  const [encoded] = await model.encode([inputIds]);
  const state = model.createState(encoded!, decoderPrefix);
  const tokens: number[] = [];
  const logits: Float32Array[] = [];
  try {
    while (tokens.length < maxNewTokens) {
      const [row] = await model.step([state]);
      logits.push(Float32Array.from(row!));
      const next = argmax(row!);
      tokens.push(next);
      state.append(next);
      if (model.info.generation.eosTokenIds.includes(next)) break;
    }
  } finally {
    state.dispose();
  }
  return { tokens, logits };
}

/** Index of the largest value, the lowest index on ties. */
export function argmax(row: Float32Array): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  return best;
}

/**
 * Rows equal up to float rounding: for the same function computed along different paths (batched with
 * other sequences, a prefix fed at once instead of token by token).
 */
export function expectRowsClose(actual: Float32Array, expected: Float32Array, tolerance = 1e-5): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) {
    // Equal values (the same infinity included) differ by nothing; anything else by its distance (NaN fails).
    const difference = actual[i] === expected[i] ? 0 : Math.abs(actual[i]! - expected[i]!);
    worst = Number.isNaN(difference) ? Infinity : Math.max(worst, difference);
  }
  expect(worst).toBeLessThanOrEqual(tolerance);
}

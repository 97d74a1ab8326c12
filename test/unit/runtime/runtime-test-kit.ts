/**
 * Shared pieces of the runtime tests: the fixture model folders, throw-away copies of them to break,
 * and comparisons of logits rows.
 */
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, expect } from 'vitest';

import type { DecodeState, ModelRuntime } from '../../../src/runtime/index.js';

export { tinyModels } from '../../fixtures/models.js';

const temporaryFolders: string[] = [];

afterAll(async () => {
  await Promise.all(temporaryFolders.splice(0).map((folder) => rm(folder, { recursive: true, force: true })));
});

/** A copy of a model folder in a temporary directory (removed after the test file), to modify freely. */
export async function copyModelFolder(source: string): Promise<string> {
  const parent = await mkdtemp(join(tmpdir(), 'stepwise-runtime-'));
  temporaryFolders.push(parent);
  const folder = join(parent, 'model');
  await cp(source, folder, { recursive: true });
  return folder;
}

export function argmax(row: Float32Array): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  return best;
}

export function maxAbsDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let largest = 0;
  for (let i = 0; i < a.length; i++) largest = Math.max(largest, Math.abs(a[i]! - b[i]!));
  return largest;
}

/** Asserts two logits rows agree within `tolerance` (max abs difference). */
export function expectRowsClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance = 1e-5): void {
  expect(maxAbsDifference(actual, expected)).toBeLessThanOrEqual(tolerance);
}

/**
 * Greedy decoding of `steps` tokens with one state; returns a copy of each step's logits row and the
 * tokens chosen. `force` replaces the chosen token at the given steps.
 */
export async function greedyDecode(
  model: ModelRuntime,
  state: DecodeState,
  steps: number,
): Promise<{ rows: Float32Array[]; tokens: number[] }> {
  const rows: Float32Array[] = [];
  const tokens: number[] = [];
  for (let i = 0; i < steps; i++) {
    const [row] = await model.step([state]);
    rows.push(Float32Array.from(row!));
    const token = argmax(row!);
    tokens.push(token);
    state.append(token);
  }
  return { rows, tokens };
}

/** Encodes one text and creates a state for it. */
export async function stateForText(model: ModelRuntime, text: string, decoderPrefix?: number[]): Promise<DecodeState> {
  const [encoded] = await model.encode([model.tokenizer.encode(text)]);
  return model.createState(encoded!, decoderPrefix);
}

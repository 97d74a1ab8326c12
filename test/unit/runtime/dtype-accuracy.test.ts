/**
 * The fp16 and q8 files measured against the fp32 files of the same weights, over 50 prompts: the largest
 * logit difference of every step relative to the step's largest logit, and how often the greedy choice
 * agrees. Each variant is fed the fp32 model's greedy tokens (teacher forcing), so every step compares
 * the same history. The bounds asserted are generous floors; the measured figures are printed and
 * recorded in bench/README.md.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type ModelDtypeChoice, type ModelRuntime } from '../../../src/runtime/index.js';
import { tinyDtypeFolders } from '../../fixtures/models.js';

const PROMPTS = 50;
const STEPS = 8;

/** Asserted bounds: largest |Δlogit| / largest |logit| per step, and the share of steps whose argmax agrees. */
const BOUNDS = {
  fp16: { relativeError: 0.02, agreement: 0.95 },
  q8: { relativeError: 0.75, agreement: 0.7 },
} as const;

function argmax(row: Float32Array): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  return best;
}

/** Prompt `p`: 2 to 14 ids from the tokenizer's ordinary range, ending with </s>. */
function prompt(p: number, vocabSize: number): number[] {
  const length = 2 + ((p * 7) % 13);
  return [...Array.from({ length }, (_, i) => 3 + ((p * 131 + i * 29) % (vocabSize - 3))), 1];
}

interface Measured {
  worstRelativeError: number;
  agreeingSteps: number;
  steps: number;
  identicalSequences: number;
}

async function measure(reference: ModelRuntime, variant: ModelRuntime): Promise<Measured> {
  const result: Measured = { worstRelativeError: 0, agreeingSteps: 0, steps: 0, identicalSequences: 0 };
  for (let p = 0; p < PROMPTS; p++) {
    const ids = prompt(p, reference.info.vocabSize);
    const [expectedInput] = await reference.encode([ids]);
    const [actualInput] = await variant.encode([ids]);
    const expected = reference.createState(expectedInput!);
    const actual = variant.createState(actualInput!);
    let identical = true;
    for (let step = 0; step < STEPS; step++) {
      const [want] = await reference.step([expected]);
      const [got] = await variant.step([actual]);
      let largest = 0;
      let difference = 0;
      for (let i = 0; i < want!.length; i++) {
        largest = Math.max(largest, Math.abs(want![i]!));
        difference = Math.max(difference, Math.abs(want![i]! - got![i]!));
      }
      result.worstRelativeError = Math.max(result.worstRelativeError, difference / largest);
      const token = argmax(want!);
      result.steps++;
      if (argmax(got!) === token) result.agreeingSteps++;
      else identical = false;
      expected.append(token);
      actual.append(token);
    }
    if (identical) result.identicalSequences++;
    expected.dispose();
    actual.dispose();
  }
  return result;
}

describe.each(tinyDtypeFolders)('weight formats against fp32 ($label)', ({ label, dir }) => {
  let reference: ModelRuntime;
  beforeAll(async () => {
    reference = await loadModel(dir);
  });
  afterAll(async () => {
    await reference?.dispose();
  });

  it.each([
    { dtype: 'fp16', bounds: BOUNDS.fp16 },
    { dtype: 'q8', bounds: BOUNDS.q8 },
    { dtype: { encoder: 'fp16', decoder: 'q8' }, bounds: BOUNDS.q8 },
  ] as const)(`$dtype: logits within the stated share of the largest logit, greedy choices agree over ${PROMPTS} prompts`, async ({ dtype, bounds }) => {
    const variant = await loadModel(dir, { dtype: dtype as ModelDtypeChoice });
    try {
      const measured = await measure(reference, variant);
      const agreement = measured.agreeingSteps / measured.steps;
      console.log(
        `${label}, ${JSON.stringify(dtype)}: largest |Δlogit| / largest |logit| ${measured.worstRelativeError.toFixed(4)}; ` +
          `greedy agreement ${measured.agreeingSteps}/${measured.steps} steps (${(agreement * 100).toFixed(1)}%), ` +
          `${measured.identicalSequences}/${PROMPTS} sequences identical over ${STEPS} steps`,
      );
      expect(measured.worstRelativeError).toBeLessThan(bounds.relativeError);
      expect(agreement).toBeGreaterThanOrEqual(bounds.agreement);
    } finally {
      await variant.dispose();
    }
  });
});

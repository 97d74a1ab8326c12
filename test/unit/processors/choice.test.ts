/**
 * `choice`: only continuations of a choice's tokens may be chosen, EOS only after a complete choice, so any
 * decoding ends in exactly one of the choices.
 */
import { describe, expect, it } from 'vitest';
import { EmptyDistributionError, ProcessorParameterError } from '../../../src/processors/errors.js';
import { processorSpec } from '../../../src/processors/param-values.js';
import { Pipeline } from '../../../src/processors/pipeline.js';
import { StreamScorer } from '../../../src/processors/selection/stream-scorer.js';
import { SeededDraws } from '../../../src/processors/selection/sampling.js';
import { createTokenSelector } from '../../../src/processors/selection/token-selector.js';
import { outputText } from '../../../src/processors/constrained/token-text.js';
import { createProcessor, registry, staticContext, stepAt, survivors } from './test-context.js';

const VOCABULARY = ['<pad>', '</s>', '<unk>', '▁', '▁positive', '▁negative', '▁yes', '▁sir', '▁no', 'pos', '▁the', '<extra_id_0>'];
const context = staticContext({ vocabulary: VOCABULARY, specialIds: [0, 1, 2, 11] });
const CHOICES = ['positive', 'negative', 'yes', 'yes sir'];

function allowedAfter(generated: number[]): number[] {
  const row = new Float32Array(VOCABULARY.length).fill(1);
  createProcessor('choice', { choices: CHOICES }, context).apply(row, stepAt([0, ...generated]));
  return survivors(row);
}

function decode(ids: readonly number[]): string {
  return ids
    .filter((id) => !context.isSpecialToken(id))
    .map((id, index) => outputText(VOCABULARY[id]!, index === 0))
    .join('');
}

describe('choice', () => {
  it('allows only the first tokens of the choices at the first step', () => {
    expect(allowedAfter([])).toEqual([4, 5, 6]);
  });

  it('allows EOS once a whole choice was generated, and the continuation of a longer choice sharing it', () => {
    expect(allowedAfter([4])).toEqual([1]);
    expect(allowedAfter([6])).toEqual([1, 7]);
    expect(allowedAfter([6, 7])).toEqual([1]);
  });

  it('keeps the scores of the allowed tokens as they were', () => {
    const row = Float32Array.from(VOCABULARY.map((_, id) => id / 10));
    createProcessor('choice', { choices: CHOICES }, context).apply(row, stepAt([0, 6]));
    expect(row[1]).toBe(Math.fround(0.1));
    expect(row[7]).toBe(Math.fround(0.7));
  });

  it('leaves nothing once the generated tokens left every choice (a forced token), ending the stream with an error', () => {
    expect(allowedAfter([8])).toEqual([]);
    const pipeline = Pipeline.build(registry, [processorSpec('choice', { choices: CHOICES })], context);
    const scorer = new StreamScorer(VOCABULARY.length, createTokenSelector({ mode: 'greedy' }));
    expect(() => scorer.choose(new Float32Array(VOCABULARY.length), pipeline, stepAt([0, 8]))).toThrow(EmptyDistributionError);
  });

  it('every sampled decoding over random scores ends as exactly one of the choices', () => {
    const pipeline = Pipeline.build(registry, [processorSpec('choice', { choices: CHOICES })], context);
    const noise = new SeededDraws(77);
    const seen = new Set<string>();
    for (let run = 0; run < 200; run++) {
      const scorer = new StreamScorer(VOCABULARY.length, createTokenSelector({ mode: 'sample', seed: run }));
      const history = [0];
      for (let step = 0; step < 10 && history.at(-1) !== 1; step++) {
        const raw = Float32Array.from(VOCABULARY, (_, id) => 4 * noise.uniform(run * 1000 + step * 20 + id));
        history.push(scorer.choose(raw, pipeline, stepAt(history)));
      }
      expect(history.at(-1)).toBe(1);
      const text = decode(history);
      expect(CHOICES).toContain(text);
      seen.add(text);
    }
    expect(seen.size).toBe(CHOICES.length);
  });

  it('refuses an empty list and a choice that encodes to no token', () => {
    const definition = registry.get('choice');
    expect(() => definition.validate(processorSpec('choice', { choices: [] }).params, context)).toThrow('`choices` must not be empty');
    expect(() => definition.validate(processorSpec('choice', { choices: ['yes', ' '] }).params, context)).toThrow(ProcessorParameterError);
    expect(() => definition.validate(processorSpec('choice', { choices: ['yes', ' '] }).params, context)).toThrow(
      '`choices[1]` (" ") encodes to no token',
    );
  });
});

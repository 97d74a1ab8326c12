/**
 * Pipelines: built in the given order after validating every spec, changed by add / replace / remove
 * without touching the original (so a change can last one step), greedy skipping of argmax-invariant
 * processors, and empty rows reported with the step and the processors that emptied them.
 */
import { describe, expect, it } from 'vitest';
import { EmptyDistributionError, PipelineError, ProcessorParameterError, UnknownProcessorError } from '../../../src/processors/errors.js';
import { processorSpec } from '../../../src/processors/param-values.js';
import { Pipeline } from '../../../src/processors/pipeline.js';
import { summarizeScores } from '../../../src/processors/selection/score-statistics.js';
import { StreamScorer } from '../../../src/processors/selection/stream-scorer.js';
import { createTokenSelector } from '../../../src/processors/selection/token-selector.js';
import { registry, SECTION_6_2, staticContext, stepAt, survivors } from './test-context.js';

const context = staticContext();
const build = (...specs: ReturnType<typeof processorSpec>[]) => Pipeline.build(registry, specs, context);

function run(pipeline: Pipeline, scores: ArrayLike<number>, history = [0]): Float32Array {
  const row = Float32Array.from(scores);
  pipeline.run(row, stepAt(history));
  return row;
}

describe('building', () => {
  it('applies the processors in the given order: a ban before top-k keeps another set than after it', () => {
    const pipeline = build(processorSpec('ban_tokens', { token_ids: [2] }), processorSpec('top_k', { top_k: 2 }));
    expect(pipeline.names).toEqual(['ban_tokens', 'top_k']);
    // Banning 2 first lets 4 and 1 be the top two; the other order would keep 4 only.
    expect(survivors(run(pipeline, SECTION_6_2))).toEqual([1, 4]);
    const reversed = build(processorSpec('top_k', { top_k: 2 }), processorSpec('ban_tokens', { token_ids: [2] }));
    expect(survivors(run(reversed, SECTION_6_2))).toEqual([4]);
  });

  it('refuses a name given twice, an unknown name, or a bad parameter before creating anything', () => {
    expect(() => build(processorSpec('top_k', { top_k: 2 }), processorSpec('top_k', { top_k: 3 }))).toThrow(PipelineError);
    expect(() => build(processorSpec('top_k', { top_k: 2 }), processorSpec('nucleus', {}))).toThrow(UnknownProcessorError);
    expect(() => build(processorSpec('top_p', { top_p: 2 }))).toThrow(ProcessorParameterError);
  });

  it('reports its specs (what Started.pipeline echoes), in order', () => {
    const warpers = build(processorSpec('temperature', { temperature: 0.7 }), processorSpec('top_p', { top_p: 0.9 }));
    expect(warpers.specs.map((spec) => spec.name)).toEqual(['temperature', 'top_p']);
  });

  it('says which ids it may change when every stage lowers only ids it lists', () => {
    expect(build().lowersOnly()).toEqual([]);
    expect([...build(processorSpec('min_new_tokens', { min_new_tokens: 5 }), processorSpec('suppress_tokens', { suppress_tokens: [4, 3] })).lowersOnly()!].sort()).toEqual([1, 3, 4]);
    // An argmax-invariant stage still changes other scores: the raw row's statistics no longer follow.
    expect(build(processorSpec('min_new_tokens', { min_new_tokens: 5 }), processorSpec('top_k', { top_k: 2 })).lowersOnly()).toBeUndefined();
  });

  it('says when greedy selection keeps the raw argmax unless it is one of a few ids', () => {
    expect(build().argmaxKeptUnless()).toEqual([]);
    expect(build(processorSpec('temperature', { temperature: 0.7 }), processorSpec('top_k', { top_k: 2 })).argmaxKeptUnless()).toEqual([]);
    // Processors that only lower listed ids (EOS for the length limits): the argmax moves only off them.
    const lowering = build(
      processorSpec('min_new_tokens', { min_new_tokens: 5 }),
      processorSpec('temperature', { temperature: 0.7 }),
      processorSpec('suppress_tokens', { suppress_tokens: [4, 3, 4] }),
      processorSpec('min_length', { min_length: 3 }),
    );
    expect([...lowering.argmaxKeptUnless()!].sort()).toEqual([1, 3, 4]);
    expect(build(processorSpec('begin_suppress_tokens', { begin_suppress_tokens: [5] })).argmaxKeptUnless()).toEqual([5]);
    // One processor that can move the maximum anywhere is enough to say nothing.
    expect(build(processorSpec('min_new_tokens', { min_new_tokens: 5 }), processorSpec('repetition_penalty', { repetition_penalty: 1.3 })).argmaxKeptUnless()).toBeUndefined();
    expect(build(processorSpec('exponential_decay_length_penalty', { start_index: 1, decay_factor: 1.5 })).argmaxKeptUnless()).toBeUndefined();
    // On rows: the raw argmax off the listed ids stays the argmax; on one of them, it may move.
    const argmaxOf = (row: Float32Array) => row.indexOf(Math.max(...row));
    expect(argmaxOf(run(lowering, [0.5, 2.5, 0.2, 1, 2, 3], [0, 3]))).toBe(5);
    expect(argmaxOf(run(lowering, [0.5, 2.5, 0.2, 4, 2, 3], [0, 3]))).toBe(5);
    expect(argmaxOf(run(lowering, [0.5, 9, 0.2, 1, 2, 3], [0, 3]))).toBe(5);
  });
});

describe('changes', () => {
  const base = build(processorSpec('temperature', { temperature: 0.5 }), processorSpec('top_k', { top_k: 3 }));

  it('add inserts at an index (default last) and refuses a name already present', () => {
    expect(base.with([{ kind: 'add', spec: processorSpec('ban_tokens', { token_ids: [2] }), index: 0 }]).names).toEqual([
      'ban_tokens',
      'temperature',
      'top_k',
    ]);
    expect(base.with([{ kind: 'add', spec: processorSpec('min_p', { min_p: 0.1 }) }]).names).toEqual(['temperature', 'top_k', 'min_p']);
    expect(() => base.with([{ kind: 'add', spec: processorSpec('top_k', { top_k: 1 }) }])).toThrow(
      'cannot add `top_k`: it is already in the pipeline; replace it instead',
    );
    expect(() => base.with([{ kind: 'add', spec: processorSpec('min_p', { min_p: 0.1 }), index: 5 }])).toThrow(
      'the index must be in [0, 2]',
    );
  });

  it('replace keeps the position with new parameters; remove drops it; both refuse absent names', () => {
    const replaced = base.with([{ kind: 'replace', spec: processorSpec('top_k', { top_k: 1 }) }]);
    expect(replaced.names).toEqual(['temperature', 'top_k']);
    expect(survivors(run(replaced, SECTION_6_2))).toEqual([2]);
    expect(base.with([{ kind: 'remove', name: 'temperature' }]).names).toEqual(['top_k']);
    expect(() => base.with([{ kind: 'remove', name: 'top_p' }])).toThrow(
      'cannot remove `top_p`: it is not in the pipeline (it has `temperature`, `top_k`)',
    );
    expect(() => base.with([{ kind: 'replace', spec: processorSpec('top_p', { top_p: 0.5 }) }])).toThrow(PipelineError);
  });

  it('leaves the original untouched, so a changed copy can serve a single step', () => {
    const thisStepOnly = base.with([{ kind: 'remove', name: 'top_k' }]);
    expect(survivors(run(thisStepOnly, SECTION_6_2))).toEqual([0, 1, 2, 3, 4, 5]);
    expect(survivors(run(base, SECTION_6_2))).toEqual([1, 2, 4]);
  });

  it('keeps the instances of untouched processors (and so their per-stream state)', () => {
    const changed = base.with([{ kind: 'add', spec: processorSpec('min_p', { min_p: 0.1 }) }]);
    expect(changed.stages[0]!.processor).toBe(base.stages[0]!.processor);
    expect(changed.stages[1]!.processor).toBe(base.stages[1]!.processor);
  });

  it('applies a list of changes in order and atomically: one bad change leaves nothing changed', () => {
    const changes = [
      { kind: 'remove', name: 'temperature' },
      { kind: 'add', spec: processorSpec('temperature', { temperature: 2 }) },
    ] as const;
    expect(base.with(changes).names).toEqual(['top_k', 'temperature']);
    expect(() => base.with([...changes, { kind: 'add', spec: processorSpec('top_p', { top_p: 7 }) }])).toThrow(ProcessorParameterError);
    expect(base.names).toEqual(['temperature', 'top_k']);
  });
});

describe('greedy selection runs the whole pipeline', () => {
  it('takes the argmax of the row every stage processed, penalties and warpers alike', () => {
    const pipeline = build(
      processorSpec('repetition_penalty', { repetition_penalty: 4 }),
      processorSpec('temperature', { temperature: 0.3 }),
      processorSpec('top_k', { top_k: 2 }),
    );
    const full = run(pipeline, SECTION_6_2, [0, 2]);
    const scorer = new StreamScorer(6, createTokenSelector({ mode: 'greedy' }));
    expect(scorer.choose(SECTION_6_2, pipeline, stepAt([0, 2]))).toBe(4);
    expect(survivors(full)).toEqual([1, 4]);
    expect(Array.from(scorer.scores)).toEqual(Array.from(full));
  });

  it('a stage after top-k reads what top-k removed: a bias cannot bring back a removed token', () => {
    const pipeline = build(processorSpec('top_k', { top_k: 1 }), processorSpec('sequence_bias', { sequence_bias: [[[3], 50]] }));
    const scorer = new StreamScorer(6, createTokenSelector({ mode: 'greedy' }));
    // top_k(1) leaves only the argmax (2); the bias on id 3 adds to -inf. Skipping top_k would pick 3.
    expect(scorer.choose(SECTION_6_2, pipeline, stepAt([0]))).toBe(2);
    expect(survivors(scorer.scores)).toEqual([2]);
  });

  it('typical_p can remove the most likely token', () => {
    const row = Float32Array.from([0.4, 0.3, 0.3].map(Math.log));
    const pipeline = Pipeline.build(registry, [processorSpec('typical_p', { typical_p: 0.2 })], staticContext({ vocabSize: 3 }));
    pipeline.run(row, stepAt([0]));
    expect(survivors(row)).toEqual([1, 2]);
    const scorer = new StreamScorer(3, createTokenSelector({ mode: 'greedy' }));
    expect(scorer.choose(Float32Array.from([0.4, 0.3, 0.3].map(Math.log)), pipeline, stepAt([0]))).toBe(1);
  });
});

describe('stream scorer', () => {
  it('works on its own copy of the raw row, which stays unchanged', () => {
    const raw = Float32Array.from(SECTION_6_2);
    const scorer = new StreamScorer(6, createTokenSelector({ mode: 'greedy' }));
    const token = scorer.choose(raw, build(processorSpec('ban_tokens', { token_ids: [2] })), stepAt([0]));
    expect(token).toBe(4);
    expect(raw).toEqual(SECTION_6_2);
    expect(scorer.scores[2]).toBe(-Infinity);
  });

  it('after sampling, its summary of the processed row is the one summarizeScores computes', () => {
    const scorer = new StreamScorer(6, createTokenSelector({ mode: 'sample', seed: 3 }));
    scorer.choose(SECTION_6_2, build(processorSpec('temperature', { temperature: 0.5 })), stepAt([0]));
    const fresh = summarizeScores(scorer.scores);
    expect(scorer.summary().max).toBe(fresh.max);
    // Sampling sums with float64 exponentials, summarizeScores with the float32 SIMD kernel.
    expect(scorer.summary().logSum).toBeCloseTo(fresh.logSum, 6);
    expect(scorer.summary().meanShifted).toBeCloseTo(fresh.meanShifted, 6);
  });

  it('refuses a row of the wrong width', () => {
    const scorer = new StreamScorer(6, createTokenSelector({ mode: 'greedy' }));
    expect(() => scorer.process(new Float32Array(5), build(), stepAt([0]))).toThrow('a logits row must have 6 entries; given 5');
  });

  it('an emptied row ends with EmptyDistributionError naming the step and the processors that emptied it', () => {
    const pipeline = build(
      processorSpec('temperature', { temperature: 0.5 }),
      processorSpec('allow_tokens', { token_ids: [3, 4] }),
      processorSpec('ban_tokens', { token_ids: [3, 4] }),
    );
    const scorer = new StreamScorer(6, createTokenSelector({ mode: 'sample', seed: 1 }));
    let caught: unknown;
    try {
      scorer.choose(SECTION_6_2, pipeline, stepAt([0, 5, 5]));
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(EmptyDistributionError);
    expect((caught as EmptyDistributionError).step).toBe(2);
    expect((caught as EmptyDistributionError).processors).toEqual(['allow_tokens', 'ban_tokens']);
    expect((caught as Error).message).toBe(
      'step 2: no token is left to choose after the pipeline removed every candidate (removed by `allow_tokens`, `ban_tokens`)',
    );
  });

  it('a raw row with no finite value is reported as such, with no processor blamed', () => {
    const scorer = new StreamScorer(3, createTokenSelector({ mode: 'greedy' }));
    const pipeline = Pipeline.build(registry, [], staticContext({ vocabSize: 3 }));
    expect(() => scorer.choose(Float32Array.from([Number.NaN, -Infinity, Number.NaN]), pipeline, stepAt([0]))).toThrow(
      'step 0: the scores have no finite value, so no token can be chosen',
    );
  });
});

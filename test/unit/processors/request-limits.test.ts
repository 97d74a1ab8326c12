/**
 * What one request may ask of the processors is bounded: every list and string a pipeline carries, and the
 * size of the `choice` and `regex` constraints. Past a bound the request is refused at `Start` with an error
 * the server answers with INVALID_ARGUMENT, naming the bound and the value given; inputs that once crashed
 * the server or froze its serving thread for seconds are refused at once. Client text repeated in a message
 * is cut to a short prefix with its length.
 */
import { describe, expect, it } from 'vitest';
import { DEAD } from '../../../src/processors/constrained/regex/dfa.js';
import { buildNfa } from '../../../src/processors/constrained/regex/nfa.js';
import { parseRegex } from '../../../src/processors/constrained/regex/parser.js';
import { compileRegex } from '../../../src/processors/constrained/regex.js';
import { outputText } from '../../../src/processors/constrained/token-text.js';
import { named, quoted } from '../../../src/processors/echo.js';
import {
  defineProcessor,
  PipelineError,
  Pipeline,
  PROCESSOR_LIMITS,
  ProcessorParameterError,
  RequestFieldError,
  UnknownProcessorError,
  createTokenSelector,
  paramsFromJson,
  processorSpec,
  StreamScoring,
  type LogitsProcessor,
  type ParamValue,
  type ProcessorDefinition,
  type StaticContext,
} from '../../../src/processors/index.js';
import { SeededDraws } from '../../../src/processors/selection/sampling.js';
import { StreamScorer } from '../../../src/processors/selection/stream-scorer.js';
import { registry, staticContext, stepAt } from './test-context.js';

const LIMITS = PROCESSOR_LIMITS;
/** A context whose rows are wide enough for long lists of distinct ids. */
const wide = staticContext({ vocabSize: 100_000 });
/** Word pieces for `choice`: "a", "b" and "x" with and without the word-boundary mark. */
const LETTERS = ['<pad>', '</s>', '<unk>', '▁', 'a', 'b', 'x', '▁a', '▁b', '▁x'];
const letters = staticContext({ vocabulary: LETTERS });

function refusal(name: string, params: Record<string, unknown> | Record<string, ParamValue>, context = wide, raw = false): string {
  try {
    registry.get(name).validate(raw ? (params as Record<string, ParamValue>) : paramsFromJson(params), context);
  } catch (error) {
    expect(error).toBeInstanceOf(ProcessorParameterError);
    return (error as ProcessorParameterError).detail;
  }
  throw new Error(`${name} accepted the parameters`);
}

function accepts(name: string, params: Record<string, unknown>, context = wide): LogitsProcessor {
  const definition = registry.get(name);
  return definition.create(definition.validate(paramsFromJson(params), context), context);
}

const range = (count: number, from = 0): number[] => Array.from({ length: count }, (_, i) => from + i);
/** `count` distinct strings over "a" and "b", each `length` letters long. */
const abWords = (count: number, length: number): string[] =>
  range(count).map((n) => n.toString(2).padStart(length, '0').replaceAll('0', 'a').replaceAll('1', 'b'));

describe('inputs that crashed the server or froze its serving thread are refused at Start, naming the bound', () => {
  it('a regex of 2,000 open groups ("(" × 2000 + "a") is refused for its nesting, not by a stack overflow', () => {
    expect(refusal('regex', { pattern: `${'('.repeat(2000)}a` })).toContain('groups nest deeper than 100 levels');
  });

  it('a regex of 2,295 nested groups is refused for its nesting', () => {
    expect(refusal('regex', { pattern: `${'('.repeat(2295)}a${')'.repeat(2295)}` })).toContain('groups nest deeper than 100 levels');
  });

  it('the regex ".{0,1000}" repeated 19 times is refused when its automaton is built, naming the bound', () => {
    expect(refusal('regex', { pattern: '.{0,1000}'.repeat(19) })).toContain(
      'its automaton is too costly to build: more than 1,000,000 state visits',
    );
  });

  it('a choice among 100,000 strings is refused by their number', () => {
    const choices = range(100_000).map((n) => `c${n}`);
    expect(refusal('choice', { choices }, letters)).toBe('`choices` must hold at most 1,024 choices; given 100,000');
  });

  it('ban_tokens with 800,000 ids is refused by their number', () => {
    expect(refusal('ban_tokens', { token_ids: range(800_000).map((n) => n % 1000) })).toBe(
      '`token_ids` must hold at most 32,768 ids; given 800,000',
    );
  });

  it('bad_words_ids with 200,000 sequences of 3 is refused by their number', () => {
    const sequences = range(200_000).map((n) => [3 + (n % 1000), 5, 6]);
    expect(refusal('bad_words_ids', { bad_words_ids: sequences })).toBe(
      '`bad_words_ids` must hold at most 1,024 sequences; given 200,000',
    );
  });

  it('a choice of 4,600 tokens is accepted and decoded to its end: its trie is built and walked without recursion', () => {
    const words = range(4600).map((n) => (n % 3 === 0 ? 'a' : n % 3 === 1 ? 'b' : 'x'));
    const processor = accepts('choice', { choices: [words.join(' ')] }, letters);
    const expected = words.map((word) => LETTERS.indexOf(`▁${word}`));
    const history = [0];
    for (let step = 0; step <= expected.length; step++) {
      const row = new Float32Array(LETTERS.length);
      processor.apply(row, stepAt(history));
      const allowed = [...row.keys()].filter((id) => row[id] !== -Infinity);
      expect(allowed).toEqual(step === expected.length ? [1] : [expected[step]]);
      history.push(allowed[0]!);
    }
  });
});

describe('each limit is enforced at its boundary: at the limit accepted, one more refused', () => {
  it.each(['ban_tokens', 'allow_tokens'])('%s holds at most 32,768 ids', (name) => {
    expect(() => accepts(name, { token_ids: range(LIMITS.tokenIds) })).not.toThrow();
    expect(refusal(name, { token_ids: range(LIMITS.tokenIds + 1) })).toBe('`token_ids` must hold at most 32,768 ids; given 32,769');
  });

  it.each(['suppress_tokens', 'begin_suppress_tokens'])('%s holds at most 32,768 ids', (name) => {
    expect(() => accepts(name, { [name]: range(LIMITS.tokenIds) })).not.toThrow();
    expect(refusal(name, { [name]: range(LIMITS.tokenIds + 1) })).toBe(`\`${name}\` must hold at most 32,768 ids; given 32,769`);
  });

  it('bad_words_ids holds at most 1,024 sequences of at most 32 ids', () => {
    const sequences = (count: number, length: number) => range(count).map((n) => [...range(length - 1, 10), 2 + n]);
    expect(() => accepts('bad_words_ids', { bad_words_ids: sequences(LIMITS.tokenSequences, LIMITS.tokenSequenceLength) })).not.toThrow();
    expect(refusal('bad_words_ids', { bad_words_ids: sequences(LIMITS.tokenSequences + 1, 2) })).toBe(
      '`bad_words_ids` must hold at most 1,024 sequences; given 1,025',
    );
    expect(refusal('bad_words_ids', { bad_words_ids: [[3], range(LIMITS.tokenSequenceLength + 1, 10)] })).toBe(
      '`bad_words_ids[1]` must hold at most 32 ids; given 33',
    );
  });

  it('sequence_bias holds at most 1,024 pairs whose sequences hold at most 32 ids', () => {
    const pairs = (count: number, length: number) => range(count).map((n) => [[...range(length - 1, 10), 2 + n], 0.5]);
    expect(() => accepts('sequence_bias', { sequence_bias: pairs(LIMITS.tokenSequences, LIMITS.tokenSequenceLength) })).not.toThrow();
    expect(refusal('sequence_bias', { sequence_bias: pairs(LIMITS.tokenSequences + 1, 1) })).toBe(
      '`sequence_bias` must hold at most 1,024 pairs; given 1,025',
    );
    expect(refusal('sequence_bias', { sequence_bias: [[range(LIMITS.tokenSequenceLength + 1, 10), 0.5]] })).toBe(
      '`sequence_bias[0][0]` must hold at most 32 ids; given 33',
    );
  });

  it('force_token_at schedules at most 4,096 steps', () => {
    const schedule = (count: number) => range(count).map((step) => [step, 3]);
    expect(() => accepts('force_token_at', { schedule: schedule(LIMITS.forcedSteps) })).not.toThrow();
    expect(refusal('force_token_at', { schedule: schedule(LIMITS.forcedSteps + 1) })).toBe(
      '`schedule` must hold at most 4,096 pairs; given 4,097',
    );
  });

  it('choice holds at most 1,024 choices', () => {
    expect(() => accepts('choice', { choices: abWords(LIMITS.choices, 10) }, letters)).not.toThrow();
    expect(refusal('choice', { choices: abWords(LIMITS.choices + 1, 11) }, letters)).toBe(
      '`choices` must hold at most 1,024 choices; given 1,025',
    );
  });

  it('choice holds at most 16,384 characters in all', () => {
    const choices = abWords(16, 4).map((word) => word.repeat(LIMITS.choiceCharacters / 16 / 4));
    expect(choices.join('').length).toBe(LIMITS.choiceCharacters);
    expect(() => accepts('choice', { choices }, letters)).not.toThrow();
    expect(refusal('choice', { choices: [...choices.slice(1), `${choices[0]}a`] }, letters)).toBe(
      '`choices` must hold at most 16,384 characters in all; given 16,385',
    );
  });

  it('a regex pattern has at most 16,384 characters', () => {
    const pattern = (length: number) => `[${'a'.repeat(length - 2)}]`;
    expect(() => accepts('regex', { pattern: pattern(LIMITS.regexPatternCharacters) })).not.toThrow();
    expect(refusal('regex', { pattern: pattern(LIMITS.regexPatternCharacters + 1) })).toBe(
      '`pattern` must be at most 16,384 characters long; given 16,385',
    );
  });

  it('a regex nests groups at most 100 deep', () => {
    const nested = (depth: number) => `${'('.repeat(depth)}a${')'.repeat(depth)}`;
    expect(() => accepts('regex', { pattern: nested(LIMITS.regexGroupDepth) })).not.toThrow();
    expect(refusal('regex', { pattern: nested(LIMITS.regexGroupDepth + 1) })).toContain(
      'cannot be used: groups nest deeper than 100 levels (at character 101)',
    );
  });

  it('a regex counts at most 1,000 repetitions', () => {
    expect(() => accepts('regex', { pattern: 'a{2,1000}' })).not.toThrow();
    expect(refusal('regex', { pattern: 'a{2,1001}' })).toContain('repetition counts above 1,000 are not supported');
  });

  it('a regex expands to at most 20,000 automaton states', () => {
    // Alternations of one letter add states to the expanded automaton, not to the deterministic one.
    const prefix = '(?:a|a|a|a|a|a|a|a){1000}'.repeat(2);
    const padding = LIMITS.regexNfaStates - buildNfa(parseRegex(prefix)).edges.length;
    expect(buildNfa(parseRegex(prefix + 'a'.repeat(padding))).edges.length).toBe(LIMITS.regexNfaStates);
    expect(() => accepts('regex', { pattern: prefix + 'a'.repeat(padding) })).not.toThrow();
    expect(refusal('regex', { pattern: prefix + 'a'.repeat(padding + 1) })).toContain(
      'the pattern expands to more than 20,000 automaton states',
    );
  });

  it('a regex has at most 10,000 deterministic states', () => {
    // n characters in a row: n + 1 states, from the start to after the last one.
    const run = (characters: number) => `${'a{1000}'.repeat(Math.floor(characters / 1000))}a{${characters % 1000}}`;
    expect(compileRegex(run(LIMITS.regexDfaStates - 1)).size).toBe(LIMITS.regexDfaStates);
    expect(() => accepts('regex', { pattern: run(LIMITS.regexDfaStates - 1) })).not.toThrow();
    expect(refusal('regex', { pattern: run(LIMITS.regexDfaStates) })).toContain('its automaton has more than 10,000 states');
  });

  it('a pipeline holds at most 64 processors', () => {
    const lookup = { get: (name: string) => trivialDefinition(name) };
    const specs = (count: number) => range(count).map((n) => processorSpec(`p${n}`));
    expect(Pipeline.build(lookup, specs(LIMITS.pipelineProcessors), wide).length).toBe(64);
    expect(() => Pipeline.build(lookup, specs(LIMITS.pipelineProcessors + 1), wide)).toThrow(
      new PipelineError('a pipeline holds at most 64 processors; given 65'),
    );
  });

  it('a decision carries at most 64 pipeline changes', () => {
    const scoring = new StreamScoring({
      registry,
      context: wide,
      specs: [],
      fields: [],
      selector: createTokenSelector({ mode: 'greedy' }),
      report: {},
    });
    const add = { kind: 'add' as const, spec: processorSpec('temperature', { temperature: 0.5 }) };
    const remove = { kind: 'remove' as const, name: 'temperature' };
    const changes = (count: number) => range(count).map((n) => (n % 2 === 0 ? add : remove));
    scoring.change(changes(LIMITS.pipelineChanges), 'decision.pipeline_changes');
    expect(scoring.pipeline()).toEqual([]);
    expect(() => scoring.change(changes(LIMITS.pipelineChanges + 2), 'decision.pipeline_changes')).toThrow(
      new RequestFieldError(
        'decision.pipeline_changes',
        new PipelineError('at most 64 pipeline changes at once; given 66'),
      ),
    );
  });

  it('a plugin`s list and string parameters without limits of their own get the default ones', () => {
    const definition = defineProcessor({
      name: 'plugin_lists',
      description: 'Lists without declared limits.',
      parameters: {
        values: { type: 'int_list', description: 'Some integers.' },
        pairs: { type: 'int_list_list', description: 'Some lists.' },
        label: { type: 'string', description: 'Some text.' },
      },
      create: () => trivialDefinition('x').create({}, wide),
    });
    expect(definition.parameters.map((p) => p.range)).toEqual([
      'at most 65,536 integers',
      'at most 65,536 lists of at most 1,024 integers',
      'at most 65,536 characters',
    ]);
    const validate = (params: Record<string, unknown>) => () => definition.validate(paramsFromJson(params), wide);
    expect(validate({ values: range(LIMITS.defaultListItems), label: 'x'.repeat(LIMITS.defaultStringCharacters) })).not.toThrow();
    expect(validate({ values: range(LIMITS.defaultListItems + 1) })).toThrow('`values` must hold at most 65,536 integers; given 65,537');
    expect(validate({ pairs: [range(LIMITS.defaultInnerListItems + 1)] })).toThrow('`pairs[0]` must hold at most 1,024 integers; given 1,025');
    expect(validate({ label: 'x'.repeat(LIMITS.defaultStringCharacters + 1) })).toThrow(
      '`label` must be at most 65,536 characters long; given 65,537',
    );
  });

  it('characters are counted as code points, not UTF-16 units', () => {
    const pattern = `[${'😀'.repeat(LIMITS.regexPatternCharacters - 2)}]`;
    expect(() => accepts('regex', { pattern })).not.toThrow();
  });
});

describe('the largest accepted constraints still decode correctly', () => {
  it('every sampled decoding through 1,024 choices ends as one of them', () => {
    const choices = abWords(LIMITS.choices, 10);
    const pipeline = Pipeline.build(registry, [processorSpec('choice', { choices })], letters);
    const noise = new SeededDraws(5);
    for (let run = 0; run < 20; run++) {
      const scorer = new StreamScorer(LETTERS.length, createTokenSelector({ mode: 'sample', seed: run }));
      const history = [0];
      for (let step = 0; step < 12 && history.at(-1) !== 1; step++) {
        const raw = Float32Array.from(LETTERS, (_, id) => 3 * noise.uniform(run * 1000 + step * 20 + id));
        history.push(scorer.choose(raw, pipeline, stepAt(history)));
      }
      expect(history.at(-1)).toBe(1);
      expect(choices).toContain(decode(LETTERS, letters, history));
    }
  });

  it('every sampled decoding through a regex of about 9,000 states ends in a match', () => {
    const DIGITS = ['<pad>', '</s>', '<unk>', '▁', '1', '2', '-', '12', '▁1', '▁2'];
    const context = staticContext({ vocabulary: DIGITS });
    const pattern = '\\d{1,1000}(-\\d{1,1000}){0,8}';
    expect(compileRegex(pattern).size).toBeGreaterThan(9000);
    const pipeline = Pipeline.build(registry, [processorSpec('regex', { pattern })], context);
    const noise = new SeededDraws(9);
    for (let run = 0; run < 20; run++) {
      const scorer = new StreamScorer(DIGITS.length, createTokenSelector({ mode: 'sample', seed: run }));
      const history = [0];
      for (let step = 0; step < 300 && history.at(-1) !== 1; step++) {
        const raw = Float32Array.from(DIGITS, (_, id) => (id === 1 ? 0 : 2) + noise.uniform(run * 4096 + step * 16 + id));
        history.push(scorer.choose(raw, pipeline, stepAt(history)));
      }
      expect(history.at(-1)).toBe(1);
      expect(decode(DIGITS, context, history)).toMatch(new RegExp(`^(?:${pattern})$`));
    }
  });

  it('parts that match only the empty string cost nothing, however often they are repeated', () => {
    const dfa = compileRegex('(((){1000}){1000}){1000}a(?:){1000}');
    expect(dfa.size).toBe(2);
    expect(dfa.next(dfa.start, 'a'.codePointAt(0)!)).not.toBe(DEAD);
  });
});

describe('client text repeated in an error message is cut to a short prefix with its length', () => {
  const MB = 'x'.repeat(1 << 20);
  const CUT = '"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…" (1,048,576 characters)';

  it('short values are quoted whole, long ones cut with their length in characters', () => {
    expect(quoted('top_q')).toBe('"top_q"');
    expect(named('top_q')).toBe('`top_q`');
    expect(quoted(MB)).toBe(CUT);
    expect(named(MB)).toBe(CUT);
    expect(named('line\nbreak')).toBe('"line\\nbreak"');
    expect(quoted('😀'.repeat(40))).toBe(`"${'😀'.repeat(32)}…" (40 characters)`);
  });

  it('an unknown processor name of 1 MB', () => {
    const error = captured(() => registry.get(MB));
    expect(error).toBeInstanceOf(UnknownProcessorError);
    expect(error.message).toContain(`unknown processor ${CUT}; registered processors: allow_tokens`);
    expect(error.message.length).toBeLessThan(1000);
  });

  it('an unknown parameter name of 1 MB', () => {
    expect(refusal('top_p', { top_p: 0.5, [MB]: 1 })).toBe(`unknown parameter ${CUT}; expected one of: \`top_p\`, \`min_tokens_to_keep\``);
    expect(refusal('renormalize_logits', { [MB]: 1 })).toBe(`takes no parameters; given ${CUT}`);
  });

  it('a string of 1 MB where a number is expected', () => {
    expect(refusal('temperature', { temperature: MB })).toBe(`\`temperature\` must be a number; given the string ${CUT}`);
  });

  it('a value nested thousands of lists deep', () => {
    let deep: ParamValue = { kind: 'int', value: 1 };
    for (let i = 0; i < 100_000; i++) deep = { kind: 'list', value: [deep] };
    const detail = refusal('sequence_bias', { sequence_bias: { kind: 'list', value: [deep] } }, wide, true);
    expect(detail).toBe('`sequence_bias[0]` must be a pair [list of token ids, bias]; given [[[… 1 item]]]');
  });

  it('a processor name of 1 MB given twice, or removed', () => {
    const twice = captured(() => Pipeline.build(registry, [processorSpec(MB), processorSpec(MB)], wide));
    expect(twice.message).toBe(`processor ${CUT} appears twice in the pipeline; give it once`);
    const pipeline = Pipeline.build(registry, [], wide);
    expect(captured(() => pipeline.with([{ kind: 'remove', name: MB }])).message).toBe(
      `cannot remove ${CUT}: it is not in the pipeline (it is empty)`,
    );
  });

  it('a long regex pattern in its refusal', () => {
    const pattern = `${'a'.repeat(10_000)}(`;
    expect(refusal('regex', { pattern })).toBe(
      '`pattern` "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa…" (10,001 characters) cannot be used: missing `)` (at character 10001)',
    );
  });

  it('a long choice in its refusal', () => {
    expect(refusal('choice', { choices: ['a', ' '.repeat(5000)] }, letters)).toBe(
      '`choices[1]` ("                                …" (5,000 characters)) encodes to no token',
    );
  });
});

describe('prepared work is done once per validation', () => {
  it('what `prepare` returns at validation is handed to `create`, and prepared again for another context', () => {
    let prepared = 0;
    const definition = defineProcessor({
      name: 'counted',
      description: 'Counts its preparations.',
      parameters: {},
      prepare: () => ++prepared,
      create: (_params, _context, preparation) => ({ ...trivialDefinition('counted').create({}, wide), preparation }) as LogitsProcessor,
    });
    const params = definition.validate({}, wide);
    expect((definition.create(params, wide) as unknown as { preparation: number }).preparation).toBe(1);
    expect(prepared).toBe(1);
    expect((definition.create(params, letters) as unknown as { preparation: number }).preparation).toBe(2);
  });
});

function trivialDefinition(name: string): ProcessorDefinition {
  return {
    name,
    description: 'Does nothing.',
    parameters: [],
    validate: () => ({}),
    create: () => ({ name, apply: () => {}, isArgmaxInvariant: () => true }),
  };
}

function captured(action: () => unknown): Error {
  try {
    action();
  } catch (error) {
    return error as Error;
  }
  throw new Error('nothing was thrown');
}

function decode(vocabulary: readonly string[], context: StaticContext, ids: readonly number[]): string {
  return ids
    .filter((id) => !context.isSpecialToken(id))
    .map((id, index) => outputText(vocabulary[id]!, index === 0))
    .join('');
}

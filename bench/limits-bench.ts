/**
 * What the request limits of `PROCESSOR_LIMITS` cost on the serving thread, with a real vocabulary: the
 * preparation (`Start`) and the per-step work of the largest constraints and lists the limits accept, and the
 * refusal of inputs past them (the ones that used to freeze or crash the server). Prints CPU milliseconds of
 * this process, the first run (cold: the code not yet optimised by V8) and the median of the warm runs.
 *
 *   npx tsx bench/limits-bench.ts [TOKENIZER_DIR]      # default: t5-small's tokenizer beside the project
 *
 * `choice` and `regex` work per vocabulary token, so the tokenizer matters (t5-small: 32,100 pieces, rows of
 * 32,128); rows are seeded noise. Run on demand; it is not part of the tests.
 */
import { fileURLToPath } from 'node:url';
import {
  BUILTIN_PROCESSORS,
  counterUniform,
  Pipeline,
  PROCESSOR_LIMITS,
  ProcessorRegistry,
  paramsFromJson,
  type ParamValue,
  type StaticContext,
} from '../src/processors/index.js';
import { HuggingFaceTextTokenizer } from '../src/runtime/text-tokenizer.js';

const TOKENIZER_DIR = process.argv[2] ?? fileURLToPath(new URL('../../shared/fixtures/t5-small', import.meta.url));
const ROW_WIDTH = 32_128;
const WARM_RUNS = 5;
const STEPS = 64;

const registry = new ProcessorRegistry(BUILTIN_PROCESSORS);
const context = await tokenizerContext(TOKENIZER_DIR);
const limits = PROCESSOR_LIMITS;

function cpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** The context a server gives processors for a model with this tokenizer (padded rows, as t5-small's export). */
async function tokenizerContext(dir: string): Promise<StaticContext> {
  const tokenizer = await HuggingFaceTextTokenizer.load(dir);
  const special = new Set<number>();
  for (let id = 0; id < tokenizer.size; id++) {
    if (tokenizer.decode([id], { skipSpecialTokens: true }) === '' && tokenizer.decode([id], { skipSpecialTokens: false }) !== '') {
      special.add(id);
    }
  }
  return {
    vocabSize: ROW_WIDTH,
    eosTokenId: 1,
    padTokenId: 0,
    decoderStartTokenId: 0,
    encoderInputIds: [1],
    decoderPromptLength: 1,
    maxLength: 1 + 512,
    tokenString: (id) => tokenizer.tokenString(id),
    isSpecialToken: (id) => id >= tokenizer.size || special.has(id),
    encodeText: (text) => {
      const ids = tokenizer.encode(text);
      if (ids.at(-1) === 1) ids.pop();
      return ids;
    },
  };
}

type Params = Readonly<Record<string, ParamValue>>;

/** Pipeline preparation at `Start` (validation and creation), cold and warm; returns the last pipeline. */
function timeBuild(label: string, name: string, params: Params): Pipeline | undefined {
  const times: number[] = [];
  let pipeline: Pipeline | undefined;
  let outcome = 'accepted';
  for (let run = 0; run <= WARM_RUNS; run++) {
    const start = cpuMs();
    try {
      pipeline = Pipeline.build(registry, [{ name, params }], context);
    } catch (error) {
      outcome = `refused: ${(error as Error).message.slice(0, 110)}`;
    }
    times.push(cpuMs() - start);
  }
  const [cold, warm] = [times[0]!, median(times.slice(1))].map((ms) => ms.toFixed(1).padStart(7));
  console.log(`${label.padEnd(44)} start: cold ${cold} ms, warm ${warm} ms  ${outcome}`);
  return pipeline;
}

/**
 * Greedy decoding through `pipeline` over seeded noise, `STEPS` steps (or to EOS), after the decoder history
 * `prefix`: the slowest and mean step.
 */
function timeSteps(label: string, pipeline: Pipeline, prefix: readonly number[] = [0]): void {
  const row = new Float32Array(ROW_WIDTH);
  const history = [...prefix];
  const times: number[] = [];
  for (let step = 0; step < STEPS; step++) {
    for (let id = 0; id < ROW_WIDTH; id++) row[id] = 3 * counterUniform(7n, BigInt(step), id);
    const start = cpuMs();
    pipeline.run(row, { history, step });
    times.push(cpuMs() - start);
    let best = 0;
    for (let id = 1; id < ROW_WIDTH; id++) if (row[id]! > row[best]!) best = id;
    if (row[best] === -Infinity) break;
    history.push(best);
    if (best === context.eosTokenId) break;
  }
  const [slowest, mean] = [Math.max(...times), times.reduce((a, b) => a + b, 0) / times.length].map((ms) => ms.toFixed(2));
  console.log(`${label.padEnd(44)} steps: ${String(times.length).padStart(3)}, slowest ${slowest} ms, mean ${mean} ms`);
}

const json = (values: Record<string, unknown>): Params => paramsFromJson(values);
/** `count` words of letters of both cases, digits and a few signs, as an alternation. */
const mixedWords = (count: number): string =>
  Array.from({ length: count }, (_, i) => {
    const word = ((i + 1) * 7919 % 9_999_991).toString(36);
    return `${word}${'ABCDEFGHIJKLMNOPQRSTUVWXYZ,:;!'[i % 30]}`;
  }).join('|');

console.log(`tokenizer ${TOKENIZER_DIR}, rows of ${ROW_WIDTH}; CPU time of this process\n`);

console.log('Largest accepted constraints');
const choiceTexts = Array.from({ length: limits.choices }, (_, i) => `label ${String(i).padStart(4, '0')} item x`.slice(0, 16));
const choices = timeBuild(
  `choice: ${limits.choices} choices, ${choiceTexts.join('').length} characters`,
  'choice',
  json({ choices: choiceTexts }),
);
if (choices) timeSteps('  decoding', choices);
const longChoice = timeBuild('choice: one choice of 4,600 tokens', 'choice', json({ choices: ['x '.repeat(4600).trim()] }));
if (longChoice) timeSteps('  decoding', longChoice);
const patterns: Record<string, string> = {
  'regex: record (6,533 states, 0.7 M visits)':
    'name: [a-z ]{1,100}, age: \\d{1,3}, email: [a-z0-9._%+-]{1,64}@[a-z0-9.-]{1,255}\\.[a-z]{2,24}',
  'regex: (a|b)*a(a|b){11} (4,097 states)': '(a|b)*a(a|b){11}',
  'regex: 10,000 states': `${'[a-z ]{1000}'.repeat(9)}[a-z ]{999}`,
  'regex: 2 × 1,100 words (sparse table)': `(${mixedWords(1100)})( (${mixedWords(1100)}))*`,
};
for (const [label, pattern] of Object.entries(patterns)) {
  const pipeline = timeBuild(label, 'regex', json({ pattern }));
  if (pipeline) timeSteps('  decoding', pipeline);
}

console.log('\nLargest accepted lists');
const ids = (count: number, from = 3) => Array.from({ length: count }, (_, i) => from + (i % 32_000));
const sameTail = Array.from({ length: limits.tokenSequenceLength - 1 }, () => 5);
const listCases: [string, string, Params][] = [
  [`ban_tokens: ${limits.tokenIds} ids`, 'ban_tokens', json({ token_ids: ids(limits.tokenIds) })],
  [`allow_tokens: ${limits.tokenIds} ids`, 'allow_tokens', json({ token_ids: ids(limits.tokenIds) })],
  [
    `bad_words_ids: ${limits.tokenSequences} × ${limits.tokenSequenceLength} ids`,
    'bad_words_ids',
    json({ bad_words_ids: Array.from({ length: limits.tokenSequences }, (_, i) => [...sameTail, 3 + i]) }),
  ],
  [
    `sequence_bias: ${limits.tokenSequences} × ${limits.tokenSequenceLength} ids`,
    'sequence_bias',
    json({ sequence_bias: Array.from({ length: limits.tokenSequences }, (_, i) => [[...sameTail, 3 + i], -1.5]) }),
  ],
  [
    `force_token_at: ${limits.forcedSteps} steps`,
    'force_token_at',
    json({ schedule: Array.from({ length: limits.forcedSteps }, (_, i) => [i, 3 + i]) }),
  ],
];
for (const [label, name, params] of listCases) {
  const pipeline = timeBuild(label, name, params);
  // Every sequence's prefix matches the history: the most work a step can be given.
  if (pipeline) timeSteps('  steps (history = the shared prefix)', pipeline, [0, ...sameTail]);
}

console.log('\nRefusals');
const refusals: [string, string, Params][] = [
  ['regex: "(" × 2000 + "a"', 'regex', json({ pattern: `${'('.repeat(2000)}a` })],
  ['regex: 2,295 nested groups', 'regex', json({ pattern: `${'('.repeat(2295)}a${')'.repeat(2295)}` })],
  ['regex: ".{0,1000}" × 19', 'regex', json({ pattern: '.{0,1000}'.repeat(19) })],
  ['regex: 1 MB pattern', 'regex', json({ pattern: 'a'.repeat(1 << 20) })],
  ['choice: 100,000 strings', 'choice', json({ choices: Array.from({ length: 100_000 }, (_, i) => `c${i}`) })],
  ['choice: one choice of 27,600 characters', 'choice', json({ choices: ['hello world '.repeat(2300)] })],
  ['ban_tokens: 800,000 ids', 'ban_tokens', json({ token_ids: ids(800_000) })],
  [
    'bad_words_ids: 200,000 × 3',
    'bad_words_ids',
    json({ bad_words_ids: Array.from({ length: 200_000 }, (_, i) => [3 + (i % 32_000), 5, 6]) }),
  ],
];
for (const [label, name, params] of refusals) timeBuild(label, name, params);
timeBuild('a processor named by 1 MB', 'x'.repeat(1 << 20), {});

/**
 * Per-step cost of each logits processor, of typical pipelines and of selection on a t5-small-wide row
 * (32,128 scores), against a baseline measured in the same run: a plain copy of the row into the stream's
 * working buffer (the one copy every step makes anyway). Also the memory allocated per step, to show that
 * no step allocates anything of vocabulary size: a control that copies the row (`raw.slice()`) per step
 * shows what such an allocation looks like in the same measurement.
 *
 *   npx tsx bench/processors-bench.ts
 *
 * Rows are synthetic (seeded Gaussian-like logits, scale 3) and the vocabulary is synthetic word pieces; the
 * costs depend on the row's width and shape, not on a model. Run on demand; it is not part of the tests.
 */
import { performance, PerformanceObserver } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import {
  BUILTIN_PROCESSORS,
  counterUniform,
  createTokenSelector,
  entropy,
  logProbability,
  Pipeline,
  ProcessorRegistry,
  processorSpec,
  type ProcessorSpec,
  sampleFromScores,
  selectGreedy,
  type StaticContext,
  type StepContext,
  StreamScorer,
  summarizeScores,
  topAlternatives,
} from '../src/processors/index.js';

const VOCAB_SIZE = 32_128;
const ROW_BYTES = VOCAB_SIZE * 4;
const WARMUP_STEPS = 100;
const TIMED_STEPS = 300;
const REPEATS = 5;
/** Buffers are counted over few steps, so that a row-sized allocation per step shows before a GC frees it. */
const BUFFER_STEPS = 100;
/** Heap is counted over many steps, past the transient allocations of compilation. */
const HEAP_STEPS = 1000;

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

// --- Inputs --------------------------------------------------------------------------------------------

/** Seeded Gaussian-like logits (Box-Muller over the counter-based generator). */
function syntheticLogits(seed: bigint): Float32Array {
  const row = new Float32Array(VOCAB_SIZE);
  for (let i = 0; i < VOCAB_SIZE; i++) {
    const u = Math.max(counterUniform(seed, 0n, 2 * i), 1e-12);
    const v = counterUniform(seed, 0n, 2 * i + 1);
    row[i] = 3 * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  return row;
}

/** Word pieces: ids 0-2 special; every third piece starts a word ("▁"), the rest continue one. */
function syntheticVocabulary(): string[] {
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  const word = (n: number) => {
    let text = '';
    for (let k = n + 1; k > 0; k = Math.floor(k / 26)) text += letters[k % 26];
    return text;
  };
  return Array.from({ length: VOCAB_SIZE }, (_, id) =>
    id === 0 ? '<pad>' : id === 1 ? '</s>' : id === 2 ? '<unk>' : `${id % 3 === 0 ? '▁' : ''}${word(id)}`,
  );
}

const vocabulary = syntheticVocabulary();
const pieceIds = new Map(vocabulary.map((piece, id) => [piece, id]));
const context: StaticContext = {
  vocabSize: VOCAB_SIZE,
  eosTokenId: 1,
  padTokenId: 0,
  decoderStartTokenId: 0,
  encoderInputIds: Array.from({ length: 48 }, (_, i) => 3 + ((i * 977) % 32_000)).concat(1),
  decoderPromptLength: 1,
  maxLength: 513,
  tokenString: (id) => vocabulary[id],
  isSpecialToken: (id) => id < 3,
  encodeText: (text) => [pieceIds.get(`▁${text}`)!],
};

const raw = syntheticLogits(7n);
/** A 64-token history of word-start pieces (so that it also satisfies the regex below). */
const history = [0, ...Array.from({ length: 64 }, (_, i) => 3 * (1 + ((i * 7919) % 10_000)))];
const step: StepContext = { history, step: history.length - 1 };
const registry = new ProcessorRegistry(BUILTIN_PROCESSORS);
const choiceWords = Array.from({ length: 20 }, (_, i) => vocabulary[3 * (i + 1)]!.slice(1));

// --- Measurement ---------------------------------------------------------------------------------------

interface Measured {
  readonly microseconds: number;
  readonly arrayBytesPerStep: number;
  readonly heapBytesPerStep: number;
  readonly collections: number;
}

function timePerStep(body: () => void): number {
  for (let i = 0; i < WARMUP_STEPS; i++) body();
  const means: number[] = [];
  for (let r = 0; r < REPEATS; r++) {
    const start = performance.now();
    for (let i = 0; i < TIMED_STEPS; i++) body();
    means.push(((performance.now() - start) * 1000) / TIMED_STEPS);
  }
  return means.sort((a, b) => a - b)[REPEATS >> 1]!;
}

let collectionsSeen = 0;
new PerformanceObserver((list) => (collectionsSeen += list.getEntries().length)).observe({ entryTypes: ['gc'] });

/** Lets the GC observer receive the entries of collections that already happened. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

async function memoryPerStep(body: () => void): Promise<Omit<Measured, 'microseconds'>> {
  collectGarbage();
  await settle();
  const buffersBefore = process.memoryUsage().arrayBuffers;
  for (let i = 0; i < BUFFER_STEPS; i++) body();
  const arrayBytesPerStep = (process.memoryUsage().arrayBuffers - buffersBefore) / BUFFER_STEPS;
  collectGarbage();
  await settle();
  const heapBefore = process.memoryUsage().heapUsed;
  const collectionsBefore = collectionsSeen;
  for (let i = 0; i < HEAP_STEPS; i++) body();
  const heapBytesPerStep = (process.memoryUsage().heapUsed - heapBefore) / HEAP_STEPS;
  await settle();
  return { arrayBytesPerStep, heapBytesPerStep, collections: collectionsSeen - collectionsBefore };
}

async function measure(body: () => void): Promise<Measured> {
  const microseconds = timePerStep(body);
  return { microseconds, ...(await memoryPerStep(body)) };
}

// --- Cases ---------------------------------------------------------------------------------------------

const work = new Float32Array(VOCAB_SIZE);
const copyRow = () => work.set(raw);

function processorCase(spec: ProcessorSpec): () => void {
  const pipeline = Pipeline.build(registry, [spec], context);
  return () => {
    work.set(raw);
    pipeline.run(work, step);
  };
}

const singleProcessors: ProcessorSpec[] = [
  processorSpec('repetition_penalty', { repetition_penalty: 1.2 }),
  processorSpec('encoder_repetition_penalty', { encoder_repetition_penalty: 1.1 }),
  processorSpec('temperature', { temperature: 0.7 }),
  processorSpec('top_k', { top_k: 50 }),
  processorSpec('top_p', { top_p: 0.9 }),
  processorSpec('min_p', { min_p: 0.05 }),
  processorSpec('typical_p', { typical_p: 0.9 }),
  processorSpec('epsilon_cutoff', { epsilon_cutoff: 3e-4 }),
  processorSpec('eta_cutoff', { eta_cutoff: 3e-4 }),
  processorSpec('no_repeat_ngram_size', { no_repeat_ngram_size: 3 }),
  processorSpec('encoder_no_repeat_ngram_size', { encoder_no_repeat_ngram_size: 2 }),
  processorSpec('bad_words_ids', { bad_words_ids: [[5, 6], [7], [3, 9, 12]] }),
  processorSpec('sequence_bias', { sequence_bias: [[[5], 1.5], [[3, 6], -2.0]] }),
  processorSpec('min_length', { min_length: 100 }),
  processorSpec('min_new_tokens', { min_new_tokens: 100 }),
  processorSpec('forced_bos_token_id', { forced_bos_token_id: 5 }),
  processorSpec('forced_eos_token_id', { forced_eos_token_id: 1 }),
  processorSpec('suppress_tokens', { suppress_tokens: [3, 4, 5, 6] }),
  processorSpec('begin_suppress_tokens', { begin_suppress_tokens: [3, 4] }),
  processorSpec('exponential_decay_length_penalty', { start_index: 10, decay_factor: 1.05 }),
  processorSpec('renormalize_logits'),
  processorSpec('remove_invalid_values'),
  processorSpec('allow_tokens', { token_ids: Array.from({ length: 100 }, (_, i) => 3 * i + 3) }),
  processorSpec('ban_tokens', { token_ids: [3, 4, 5] }),
  processorSpec('force_token_at', { step: 0, token_id: 5 }),
  processorSpec('choice', { choices: choiceWords }),
  processorSpec('regex', { pattern: '[a-z]+( [a-z]+)*' }),
];

const typicalSampling = Pipeline.build(
  registry,
  [
    processorSpec('repetition_penalty', { repetition_penalty: 1.2 }),
    processorSpec('no_repeat_ngram_size', { no_repeat_ngram_size: 3 }),
    processorSpec('temperature', { temperature: 0.7 }),
    processorSpec('top_k', { top_k: 50 }),
    processorSpec('top_p', { top_p: 0.9 }),
  ],
  context,
);
const sampler = new StreamScorer(VOCAB_SIZE, createTokenSelector({ mode: 'sample', seed: 42n }));
const greedy = new StreamScorer(VOCAB_SIZE, createTokenSelector({ mode: 'greedy' }));

const pipelineCases: [string, () => void][] = [
  ['typical sampling step: rep 1.2, 3-gram, T 0.7, top-k 50, top-p 0.9, sample, log p', () => {
    const token = sampler.choose(raw, typicalSampling, step);
    logProbability(sampler.scores, token, sampler.summary());
  }],
  ['same pipeline, greedy (every stage runs)', () => {
    greedy.choose(raw, typicalSampling, step);
  }],
];

const selectionCases: [string, () => void][] = [
  ['copy + greedy selection', () => {
    work.set(raw);
    selectGreedy(work, 0);
  }],
  ['copy + seeded sampling', () => {
    work.set(raw);
    sampleFromScores(work, 0.5, 0);
  }],
  ['copy + summary, log p, entropy', () => {
    work.set(raw);
    const summary = summarizeScores(work);
    logProbability(work, 17, summary);
    entropy(summary);
  }],
  ['copy + summary + top-5 alternatives', () => {
    work.set(raw);
    topAlternatives(work, 5, summarizeScores(work));
  }],
];

// --- Report --------------------------------------------------------------------------------------------

function row(name: string, measured: Measured, baseline: number): string {
  const ratio = (measured.microseconds / baseline).toFixed(1);
  return [
    name.padEnd(84),
    measured.microseconds.toFixed(1).padStart(9),
    `${ratio}x`.padStart(8),
    measured.arrayBytesPerStep.toFixed(0).padStart(12),
    measured.heapBytesPerStep.toFixed(0).padStart(10),
    String(measured.collections).padStart(5),
  ].join(' ');
}

const baseline = await measure(copyRow);
const header = [
  'case (each includes the copy of the row)'.padEnd(84),
  'µs/step'.padStart(9),
  'vs copy'.padStart(8),
  'buffers B/st'.padStart(12),
  'heap B/st'.padStart(10),
  'GCs'.padStart(5),
].join(' ');
console.log(`logits row: ${VOCAB_SIZE} float32 (${ROW_BYTES} bytes); ${TIMED_STEPS} steps x ${REPEATS} repeats (median)`);
console.log(
  `memory after a full GC: ArrayBuffer bytes over ${BUFFER_STEPS} steps, heap bytes and GCs over ${HEAP_STEPS} steps\n`,
);
console.log(header);
console.log(row('baseline: copy of the row into the working buffer', baseline, baseline.microseconds));
console.log(row('control: allocate a copy per step (raw.slice())', await measure(() => raw.slice()), baseline.microseconds));
for (const spec of singleProcessors) console.log(row(spec.name, await measure(processorCase(spec)), baseline.microseconds));
for (const [name, body] of [...pipelineCases, ...selectionCases]) console.log(row(name, await measure(body), baseline.microseconds));

const regexFirstStep = (() => {
  const pipeline = Pipeline.build(registry, [processorSpec('regex', { pattern: '[a-z]+( [a-z]+)*' })], context);
  const start = performance.now();
  work.set(raw);
  pipeline.run(work, step);
  return (performance.now() - start) * 1000;
})();
console.log(`\nregex: the first step of a stream builds the DFA state's token mask (one vocabulary scan): ${regexFirstStep.toFixed(0)} µs`);

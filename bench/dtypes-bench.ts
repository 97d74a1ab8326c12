/**
 * Time per token of each weight format against fp32, on the t5-small shape: one folder built with
 * `--dtypes fp32,fp16,q8` (random weights, t5-small's exact shapes), each format loaded in turn by the
 * runtime and decoded greedily one prompt at a time, the same prompts for every format. The formats take
 * turns prompt by prompt (fp32, fp16, q8 on prompt 1, then on prompt 2, …), so that a change in the
 * machine's load falls on all of them; each repetition's figure per format is its total over the prompts,
 * and every figure reported is the median over repetitions, wall time and the process's CPU time (which a
 * loaded machine inflates less; with `--threads 1` it is the model's own work). Alongside, each format's agreement with fp32 on
 * these prompts: its steps fed fp32's greedy tokens, the largest logit difference relative to the largest
 * logit, and the share of steps whose greedy choice agrees.
 *
 * npx tsx bench/dtypes-bench.ts [--reps N] [--prompts N] [--new-tokens N] [--threads N]
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { ensureModel, type BuildModelOptions } from '../src/builder/index.js';
import { loadModel, type ModelDtype, type ModelRuntime } from '../src/runtime/index.js';
import { benchPrompts } from './bench-model.js';

const FOLDER = fileURLToPath(new URL('../.cache/models/t5-small-dtypes', import.meta.url));
const T5_SMALL_TOKENIZER = fileURLToPath(new URL('../../shared/fixtures/t5-small/tokenizer.json', import.meta.url));
const DTYPES = ['fp32', 'fp16', 'q8'] as const satisfies readonly ModelDtype[];

const { values } = parseArgs({
  options: {
    reps: { type: 'string', default: '3' },
    prompts: { type: 'string', default: '4' },
    'new-tokens': { type: 'string', default: '32' },
    'prompt-tokens': { type: 'string', default: '32' },
    threads: { type: 'string' },
  },
});
const reps = Number(values.reps);
const promptCount = Number(values.prompts);
const newTokens = Number(values['new-tokens']);
const promptTokens = Number(values['prompt-tokens']);

function argmaxNoEos(row: Float32Array, eos: number): number {
  let best = eos === 0 ? 1 : 0;
  for (let i = 0; i < row.length; i++) if (i !== eos && row[i]! > row[best]!) best = i;
  return best;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Greedy decoding of one prompt to full length (EOS excluded): wall and CPU ms of its decoder steps and of its encode. */
async function timeDecoding(model: ModelRuntime, ids: readonly number[]): Promise<{ stepMs: number; stepCpuMs: number; encodeMs: number }> {
  const encodeStart = performance.now();
  const [encoded] = await model.encode([ids]);
  const encodeMs = performance.now() - encodeStart;
  const state = model.createState(encoded!);
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  for (let step = 0; step < newTokens; step++) {
    const [row] = await model.step([state]);
    state.append(argmaxNoEos(row!, model.info.specialIds.eos));
  }
  const stepMs = performance.now() - start;
  const cpu = process.cpuUsage(cpuStart);
  state.dispose();
  return { stepMs, stepCpuMs: (cpu.user + cpu.system) / 1000, encodeMs };
}

/** `variant` fed `reference`'s greedy tokens: the largest |Δlogit| / largest |logit| and the agreeing steps. */
async function agreement(reference: ModelRuntime, variant: ModelRuntime, prompts: readonly number[][]) {
  let worst = 0;
  let agreeing = 0;
  let steps = 0;
  for (const ids of prompts) {
    const [a] = await reference.encode([ids]);
    const [b] = await variant.encode([ids]);
    const expected = reference.createState(a!);
    const actual = variant.createState(b!);
    for (let step = 0; step < newTokens; step++) {
      const [want] = await reference.step([expected]);
      const [got] = await variant.step([actual]);
      let largest = 0;
      let difference = 0;
      for (let i = 0; i < want!.length; i++) {
        largest = Math.max(largest, Math.abs(want![i]!));
        difference = Math.max(difference, Math.abs(want![i]! - got![i]!));
      }
      worst = Math.max(worst, difference / largest);
      const token = argmaxNoEos(want!, reference.info.specialIds.eos);
      if (argmaxNoEos(got!, reference.info.specialIds.eos) === token) agreeing++;
      steps++;
      expected.append(token);
      actual.append(token);
    }
    expected.dispose();
    actual.dispose();
  }
  return { worst, agreeing, steps };
}

const options: BuildModelOptions = {
  preset: 't5-small',
  seed: 0,
  out: FOLDER,
  decoders: 'merged',
  dtypes: [...DTYPES],
  ...(existsSync(T5_SMALL_TOKENIZER) ? { tokenizerPath: T5_SMALL_TOKENIZER, padVocabToMultiple: 128 } : {}),
};
process.stderr.write(`dtypes bench: ensuring ${FOLDER}\n`);
await ensureModel(options);
const load = (dtype: ModelDtype) => loadModel(FOLDER, { dtype, ...(values.threads !== undefined && { intraOpNumThreads: Number(values.threads) }) });

const reference = await load('fp32');
const prompts = benchPrompts((text) => reference.tokenizer.encode(text), reference.info.specialIds.eos, promptCount, promptTokens);
interface Totals {
  stepMs: number[];
  stepCpuMs: number[];
  encodeMs: number[];
}
const timings = new Map<ModelDtype, Totals>(DTYPES.map((dtype) => [dtype, { stepMs: [], stepCpuMs: [], encodeMs: [] }]));
const models = new Map<ModelDtype, ModelRuntime>([['fp32', reference]]);
for (const dtype of DTYPES) if (!models.has(dtype)) models.set(dtype, await load(dtype));
for (const model of models.values()) await timeDecoding(model, prompts[0]!); // warm-up
for (let rep = 0; rep < reps; rep++) {
  const sums = new Map(DTYPES.map((dtype) => [dtype, { stepMs: 0, stepCpuMs: 0, encodeMs: 0 }]));
  for (const ids of prompts) {
    for (const dtype of DTYPES) {
      const timing = await timeDecoding(models.get(dtype)!, ids);
      const sum = sums.get(dtype)!;
      sum.stepMs += timing.stepMs;
      sum.stepCpuMs += timing.stepCpuMs;
      sum.encodeMs += timing.encodeMs;
    }
  }
  for (const dtype of DTYPES) {
    const sum = sums.get(dtype)!;
    const totals = timings.get(dtype)!;
    totals.stepMs.push(sum.stepMs / (prompts.length * newTokens));
    totals.stepCpuMs.push(sum.stepCpuMs / (prompts.length * newTokens));
    totals.encodeMs.push(sum.encodeMs / prompts.length);
    process.stderr.write(`  rep ${rep + 1} ${dtype}: ${totals.stepMs.at(-1)!.toFixed(2)} ms/token, ${totals.stepCpuMs.at(-1)!.toFixed(2)} CPU ms/token\n`);
  }
}

const fp32Step = median(timings.get('fp32')!.stepMs);
const fp32Cpu = median(timings.get('fp32')!.stepCpuMs);
const threads = values.threads === undefined ? "ONNX Runtime's default threads" : `${values.threads} intra-op thread(s)`;
console.log(`t5-small shape, ${promptCount} prompts of ${promptTokens} tokens, ${newTokens} new tokens each, ${threads}, median of ${reps} repetitions`);
console.log('| dtype | ms / token | vs fp32 | CPU ms / token | vs fp32 | encode ms / prompt | largest \\|Δlogit\\| ÷ largest \\|logit\\| | greedy agreement with fp32 |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
for (const dtype of DTYPES) {
  const { stepMs, stepCpuMs, encodeMs } = timings.get(dtype)!;
  const agree = dtype === 'fp32' ? undefined : await agreement(reference, models.get(dtype)!, prompts);
  const agreeText = agree === undefined ? '—' : `${agree.agreeing}/${agree.steps} steps`;
  const errorText = agree === undefined ? '—' : agree.worst.toFixed(4);
  const [wall, cpu] = [median(stepMs), median(stepCpuMs)];
  console.log(
    `| ${dtype} | ${wall.toFixed(2)} | ${(wall / fp32Step).toFixed(2)}× | ${cpu.toFixed(2)} | ${(cpu / fp32Cpu).toFixed(2)}× | ${median(encodeMs).toFixed(1)} | ${errorText} | ${agreeText} |`,
  );
}
for (const model of models.values()) await model.dispose();

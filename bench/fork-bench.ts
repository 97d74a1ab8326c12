/**
 * `npx tsx bench/fork-bench.ts [--reps N] [--input-tokens N]`: what a branch costs (`DecodeState.fork`, the
 * KV cache copied) on the t5-small-shaped benchmark model, in process with one intra-op thread: the time of
 * one fork after 16 and after 128 cached decoder tokens, and one decoder step of 4 forks of one state run
 * together against the same 4 forks stepped one after another. Medians over `--reps` repetitions.
 */
import { parseArgs } from 'node:util';
import { loadModel, type DecodeState } from '../src/runtime/index.js';
import { BENCH_MODEL_FOLDER, ensureBenchModel } from './bench-model.js';
import { median, round } from './stats.js';

const { values } = parseArgs({ options: { reps: { type: 'string', default: '15' }, 'input-tokens': { type: 'string', default: '24' } } });
const reps = Number(values.reps);
const inputTokens = Number(values['input-tokens']);

await ensureBenchModel();
const model = await loadModel(BENCH_MODEL_FOLDER, { intraOpNumThreads: 1 });
const { numDecoderLayers, numHeads, dKv } = model.info.config;
const bytesPerToken = 2 * numDecoderLayers * numHeads * dKv * 4;
const input = Array.from({ length: inputTokens - 1 }, (_, i) => 100 + i).concat(model.info.specialIds.eos);

/** A state with `cached` decoder tokens in its cache and one token pending. */
async function stateWith(cached: number): Promise<DecodeState> {
  const [encoded] = await model.encode([input]);
  const state = model.createState(encoded!, Array.from({ length: cached - 1 }, (_, i) => 200 + i));
  await model.step([state]);
  state.append(7);
  return state;
}

async function timed(action: () => Promise<unknown> | unknown): Promise<number> {
  const began = performance.now();
  await action();
  return performance.now() - began;
}

console.log(`t5-small shape: ${bytesPerToken / 1024} KiB copied per cached token (decoder tokens and input tokens alike)`);
console.log('| cached decoder tokens | input tokens | bytes copied | fork, ms | 4 forks, one step together, ms | 4 forks, stepped one by one, ms |');
console.log('| ---: | ---: | ---: | ---: | ---: | ---: |');
for (const cached of [16, 128]) {
  const parent = await stateWith(cached);
  const fork: number[] = [];
  const together: number[] = [];
  const oneByOne: number[] = [];
  for (let rep = 0; rep <= reps; rep++) {
    let child: DecodeState | undefined;
    const forkMs = await timed(() => (child = parent.fork()));
    child!.dispose();
    const forks = Array.from({ length: 4 }, () => parent.fork());
    const togetherMs = await timed(() => model.step(forks));
    // The same step again, one state at a time: each takes back its token and feeds another.
    forks.forEach((state, i) => {
      state.rewind(1);
      state.append(i);
    });
    const oneByOneMs = await timed(async () => {
      for (const state of forks) await model.step([state]);
    });
    forks.forEach((state) => state.dispose());
    if (rep === 0) continue; // warm-up
    fork.push(forkMs);
    together.push(togetherMs);
    oneByOne.push(oneByOneMs);
  }
  parent.dispose();
  const copied = (cached + inputTokens) * bytesPerToken;
  console.log(`| ${cached} | ${inputTokens} | ${Math.round(copied / 1024)} KiB | ${round(median(fork), 3)} | ${round(median(together), 1)} | ${round(median(oneByOne), 1)} |`);
}
await model.dispose();

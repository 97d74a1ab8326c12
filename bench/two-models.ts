/**
 * Two models in one server, decoding at once, against each alone: the server's composition with two models
 * (each on its own model thread behind its own scheduler), driven from this process by the benchmark's
 * greedy loop (one stream per model, every sequence forced to full length), for each way of giving out
 * ONNX Runtime's intra-op threads.
 *
 * ```sh
 * npx tsx bench/two-models.ts                             # t5-small-shaped model twice, 32 tokens, 3 reps
 * npx tsx bench/two-models.ts --new-tokens 64 --reps 5 --threads share,2
 * npx tsx bench/two-models.ts --models a=DIR,b=DIR        # two folders of your own
 * ```
 *
 * `--threads` lists the thread settings to compare: `share` is the server's default with several models
 * (each model gets `floor(cores / models)` intra-op threads), a number N is `serve --threads N` (N per model).
 * Per setting, per repetition: model a alone, model b alone, then both at once; each figure is the median
 * over the repetitions of ms per generated token of one stream.
 */
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { composeServer, type ComposedServer } from '../src/composition-root.js';
import type { ModelRuntime } from '../src/runtime/index.js';
import { MemoryLogger } from '../src/server/logger.js';
import { BENCH_MODEL_FOLDER, benchPrompts, ensureBenchModel } from './bench-model.js';
import { decode } from './runtime-runner.js';
import { median, round } from './stats.js';

const { values } = parseArgs({
  options: {
    models: { type: 'string' },
    threads: { type: 'string', default: 'share,' + String(availableParallelism()) },
    'new-tokens': { type: 'string', default: '32' },
    'prompt-tokens': { type: 'string', default: '32' },
    reps: { type: 'string', default: '3' },
  },
});
const newTokens = Number(values['new-tokens']);
const promptTokens = Number(values['prompt-tokens']);
const reps = Number(values.reps);

/** ms per token of one greedy stream of `newTokens` on `model`. */
async function msPerToken(model: ModelRuntime, prompt: readonly number[]): Promise<number> {
  const started = performance.now();
  await decode(model, prompt, newTokens);
  return (performance.now() - started) / newTokens;
}

async function measure(app: ComposedServer): Promise<Record<string, number>> {
  const [a, b] = app.catalog.models.map((model) => model.runtime);
  const prompt = benchPrompts((text) => a!.tokenizer.encode(text), a!.info.specialIds.eos, 1, promptTokens)[0]!;
  await Promise.all([msPerToken(a!, prompt), msPerToken(b!, prompt)]); // warm-up
  const runs: Record<string, number[]> = { aAlone: [], bAlone: [], aWithB: [], bWithA: [] };
  for (let rep = 0; rep < reps; rep++) {
    runs.aAlone!.push(await msPerToken(a!, prompt));
    runs.bAlone!.push(await msPerToken(b!, prompt));
    const [withB, withA] = await Promise.all([msPerToken(a!, prompt), msPerToken(b!, prompt)]);
    runs.aWithB!.push(withB);
    runs.bWithA!.push(withA);
  }
  return Object.fromEntries(Object.entries(runs).map(([key, list]) => [key, round(median(list), 2)]));
}

async function main(): Promise<void> {
  let models: { name: string; dir: string }[];
  if (values.models === undefined) {
    await ensureBenchModel();
    models = [
      { name: 'a', dir: BENCH_MODEL_FOLDER },
      { name: 'b', dir: BENCH_MODEL_FOLDER },
    ];
  } else {
    models = values.models.split(',').map((entry) => {
      const [name, dir] = entry.split('=');
      return { name: name!, dir: dir! };
    });
  }
  console.log(`cores: ${availableParallelism()}; ${newTokens} new tokens per stream, ${promptTokens}-token prompt, median of ${reps}`);
  console.log('| threads per model | a alone | b alone | a with b | b with a | both: tokens/s | alone: tokens/s |');
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const setting of values.threads!.split(',')) {
    const threads = setting === 'share' ? undefined : Number(setting);
    const app = await composeServer({ models, logger: new MemoryLogger(), load: threads === undefined ? {} : { intraOpNumThreads: threads } });
    try {
      const r = await measure(app);
      const both = round(1000 / r.aWithB! + 1000 / r.bWithA!, 1);
      const alone = round(1000 / r.aAlone!, 1);
      const label = setting === 'share' ? `share (${Math.max(1, Math.floor(availableParallelism() / models.length))})` : setting;
      console.log(`| ${label} | ${r.aAlone} ms | ${r.bAlone} ms | ${r.aWithB} ms | ${r.bWithA} ms | ${both} | ${alone} |`);
    } finally {
      await app.dispose();
    }
  }
}

await main();

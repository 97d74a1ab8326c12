/**
 * Σ exp(z − max) and Σ exp(z − max)·(z − max) over one t5-small-wide row (32,128 scores): the JS loop
 * (`exponentialSums`) against the WebAssembly SIMD kernel (`expSumsKernel`, its copy of the row into wasm
 * memory included); and the finite maximum plus those sums as the selection code needs them: JS `finiteMaximum`
 * + `exponentialSums` against the kernel's `summarize` (one copy, both passes in wasm). Each is warmed up first, so that both run optimised code, then timed over many batches
 * of calls; the median batch gives the µs per row.
 *
 *   npx tsx bench/exp-sums-bench.ts
 *
 * The row is synthetic (seeded Gaussian-like logits, scale 3): the cost depends on the row's width, not on
 * its values. Run on demand; it is not part of the tests.
 */
import { performance } from 'node:perf_hooks';
import { expSumsKernel } from '../src/numeric/index.js';
import { exponentialSums, exponentialSumsResult, finiteMaximum, rowMaximum } from '../src/processors/index.js';

const VOCAB_SIZE = 32_128;
const WARMUP_CALLS = 2_000;
const CALLS_PER_BATCH = 20;
const BATCHES = 200;

/** Seeded Gaussian-like logits (Box-Muller over a 32-bit xorshift generator). */
function syntheticLogits(seed: number, scale: number): Float32Array {
  let state = seed >>> 0 || 1;
  const uniform = (): number => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return ((state >>> 0) + 0.5) / 2 ** 32;
  };
  const row = new Float32Array(VOCAB_SIZE);
  for (let i = 0; i < VOCAB_SIZE; i++) {
    row[i] = scale * Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
  }
  return row;
}

/** Median µs per call of `step`, over BATCHES batches of CALLS_PER_BATCH calls after a warm-up. */
function microsecondsPerCall(step: () => number): { median: number; sink: number } {
  let sink = 0;
  for (let i = 0; i < WARMUP_CALLS; i++) sink += step();
  const batches: number[] = [];
  for (let b = 0; b < BATCHES; b++) {
    const start = performance.now();
    for (let i = 0; i < CALLS_PER_BATCH; i++) sink += step();
    batches.push(((performance.now() - start) * 1000) / CALLS_PER_BATCH);
  }
  batches.sort((a, b) => a - b);
  return { median: batches[batches.length >> 1]!, sink };
}

function main(): void {
  const kernel = expSumsKernel();
  if (kernel === undefined) {
    console.log('WebAssembly SIMD is not available here; nothing to compare.');
    return;
  }
  const row = syntheticLogits(12_345, 3);
  const max = rowMaximum(row);
  const out = new Float64Array(2);

  const js = microsecondsPerCall(() => exponentialSums(row, max) + exponentialSumsResult.weightedShift);
  const wasm = microsecondsPerCall(() => {
    kernel.sums(row, max, out);
    return out[0]! + out[1]!;
  });

  const jsMaxAndSums = microsecondsPerCall(() => {
    const rowMax = finiteMaximum(row);
    return rowMax + exponentialSums(row, rowMax) + exponentialSumsResult.weightedShift;
  });
  // What the selection code did before `summarize`: the maximum in JS, then the kernel's sums.
  const jsMaxWasmSums = microsecondsPerCall(() => {
    const rowMax = finiteMaximum(row);
    kernel.sums(row, rowMax, out);
    return rowMax + out[0]! + out[1]!;
  });
  const summarize = microsecondsPerCall(() => kernel.summarize(row, out) + out[0]! + out[1]!);

  const jsSum = exponentialSums(row, max);
  const jsWeighted = exponentialSumsResult.weightedShift;
  kernel.sums(row, max, out);
  console.log(`row width ${VOCAB_SIZE}, median of ${BATCHES} batches of ${CALLS_PER_BATCH} calls`);
  console.log(`  JS exponentialSums   ${js.median.toFixed(1).padStart(7)} µs/row`);
  console.log(`  wasm SIMD kernel     ${wasm.median.toFixed(1).padStart(7)} µs/row (row copy included)`);
  console.log(`  ratio                ${(js.median / wasm.median).toFixed(1).padStart(7)}×`);
  console.log(`  JS finiteMaximum + exponentialSums ${jsMaxAndSums.median.toFixed(1).padStart(7)} µs/row`);
  console.log(`  JS finiteMaximum + wasm sums       ${jsMaxWasmSums.median.toFixed(1).padStart(7)} µs/row`);
  console.log(`  wasm summarize (max + sums)        ${summarize.median.toFixed(1).padStart(7)} µs/row (one row copy)`);
  console.log(`  ratio                              ${(jsMaxAndSums.median / summarize.median).toFixed(1).padStart(7)}×`);
  console.log(
    `  sum ${jsSum} vs ${out[0]} (rel. diff ${Math.abs(out[0]! - jsSum) / jsSum}); ` +
      `weighted/sum ${jsWeighted / jsSum} vs ${out[1]! / out[0]!}`,
  );
  // Keeps the timed results observable, so that no call can be optimised away.
  if (Number.isNaN(js.sink + wasm.sink + jsMaxAndSums.sink + jsMaxWasmSums.sink + summarize.sink)) console.log('(a result was NaN)');
}

main();

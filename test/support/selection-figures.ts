/**
 * Greedy selection's figures (argmax, the score summary, both from one call) on a fixed set of rows, in a
 * form that survives JSON (numbers as strings: −inf and NaN included). Run as a script, it prints them and
 * whether the WebAssembly kernel was in use, so a test can compare a process without WebAssembly (`node
 * --jitless`, where the JavaScript fallbacks run) with its own.
 */
import { pathToFileURL } from 'node:url';
import { expSumsKernel } from '../../src/numeric/exp-sums-kernel.js';
import { SeededRandom } from '../../src/builder/prng.js';
import { argmaxOfFinite } from '../../src/numeric/argmax.js';
import { summarizeScores, summarizeScoresWithArgmax } from '../../src/processors/selection/score-statistics.js';

export interface SelectionFigures {
  readonly argmax: number;
  readonly withArgmax: { readonly argmax: number; readonly max: string; readonly logSum: string; readonly meanShifted: string };
  readonly summary: { readonly max: string; readonly logSum: string; readonly meanShifted: string };
}

/** Seeded rows: random lengths and scales, non-finite entries, ties, signed zeros, nothing finite, empty. */
export function selectionRows(): Float32Array[] {
  const random = new SeededRandom(12345);
  const uniform = () => random.uniform();
  const rows: Float32Array[] = [];
  for (const length of [1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 33, 64, 32_128]) {
    for (const scale of [1, 30]) {
      const row = Float32Array.from({ length }, () => scale * (uniform() * 2 - 1));
      rows.push(row);
      const holes = row.slice();
      for (let i = 0; i < length; i += 3) holes[i] = [-Infinity, Number.NaN, Infinity][i % 3]!;
      rows.push(holes);
    }
  }
  rows.push(new Float32Array(0));
  rows.push(new Float32Array([-Infinity, Number.NaN, Infinity]));
  rows.push(new Float32Array([2, 5, 5, 1, 5]));
  rows.push(new Float32Array([-0, 0, -1]), new Float32Array([0, -0, -1]));
  rows.push(new Float32Array([-1e30, 3e38, -3e38, 3e38]));
  return rows;
}

const text = (value: number) => String(value);

export function selectionFigures(rows: readonly Float32Array[]): SelectionFigures[] {
  return rows.map((row) => {
    const both = summarizeScoresWithArgmax(row);
    const summary = summarizeScores(row);
    return {
      argmax: argmaxOfFinite(row),
      withArgmax: {
        argmax: both.argmax,
        max: text(both.summary.max),
        logSum: text(both.summary.logSum),
        meanShifted: text(both.summary.meanShifted),
      },
      summary: { max: text(summary.max), logSum: text(summary.logSum), meanShifted: text(summary.meanShifted) },
    };
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.stdout.write(JSON.stringify({ kernel: expSumsKernel() !== undefined, figures: selectionFigures(selectionRows()) }));
}

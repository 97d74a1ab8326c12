/**
 * Greedy selection where WebAssembly is unavailable (`node --jitless`, as some locked-down hosts run): the
 * JavaScript fallbacks of argmax and of the score summary give the kernel's ids exactly and its figures
 * within the kernel's float32-exponential tolerance, on the same rows.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { argmaxOfFiniteLoop } from '../../../src/numeric/argmax.js';
import { selectionFigures, selectionRows, type SelectionFigures } from '../../support/selection-figures.js';

const SCRIPT = fileURLToPath(new URL('../../support/selection-figures.ts', import.meta.url));
const RELATIVE_TOLERANCE = 2e-6;

function withoutWebAssembly(): { kernel: boolean; figures: SelectionFigures[] } {
  const child = spawnSync(process.execPath, ['--jitless', '--import', 'tsx', SCRIPT], { encoding: 'utf8', timeout: 60_000 });
  if (child.status !== 0) throw new Error(`the --jitless child failed (${child.status}): ${child.stderr}`);
  return JSON.parse(child.stdout) as { kernel: boolean; figures: SelectionFigures[] };
}

function expectClose(actual: string, expected: string, label: string): void {
  const [a, e] = [Number(actual), Number(expected)];
  if (!Number.isFinite(e)) {
    expect(actual, label).toBe(expected);
    return;
  }
  expect(Math.abs(a - e), `${label}: ${actual} vs ${expected}`).toBeLessThanOrEqual(RELATIVE_TOLERANCE * Math.max(1, Math.abs(e)));
}

describe('greedy selection without WebAssembly', () => {
  const rows = selectionRows();
  const fallback = withoutWebAssembly();
  const kernel = selectionFigures(rows);

  it('runs the JavaScript fallbacks in the child', () => {
    expect(fallback.kernel).toBe(false);
    expect(fallback.figures).toHaveLength(rows.length);
  });

  it('chooses the same ids as the kernel and as the loop, from both entry points', () => {
    rows.forEach((row, index) => {
      const expected = argmaxOfFiniteLoop(row);
      expect(kernel[index]!.argmax, `row ${index}`).toBe(expected);
      expect(kernel[index]!.withArgmax.argmax, `row ${index}`).toBe(expected);
      expect(fallback.figures[index]!.argmax, `row ${index}`).toBe(expected);
      expect(fallback.figures[index]!.withArgmax.argmax, `row ${index}`).toBe(expected);
    });
  });

  it('gives the kernel\'s maximum exactly and its sums within tolerance', () => {
    rows.forEach((_, index) => {
      const [own, other] = [kernel[index]!, fallback.figures[index]!];
      for (const [label, a, b] of [
        ['summary', other.summary, own.summary],
        ['with argmax', other.withArgmax, own.withArgmax],
      ] as const) {
        expect(a.max, `row ${index} ${label} max`).toBe(b.max);
        expectClose(a.logSum, b.logSum, `row ${index} ${label} logSum`);
        expectClose(a.meanShifted, b.meanShifted, `row ${index} ${label} meanShifted`);
      }
    });
  });
});

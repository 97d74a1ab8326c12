/**
 * `src/gen/` and the client package's copy `clients/ts/gen/` must be exactly what buf + ts-proto make of
 * `proto/`: `npm test` fails on stale code, the same way the CI check does.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const script = join(process.cwd(), 'scripts', 'check-generated.mjs');

function runCheck(...args: string[]): { status: number | null; output: string } {
  const result = spawnSync(process.execPath, [script, ...args], { encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe('generated code', () => {
  const scratchDirs: string[] = [];
  afterEach(() => {
    for (const dir of scratchDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('src/gen and clients/ts/gen match a fresh buf generate of proto/ and the proto passes buf lint', () => {
    const { status, output } = runCheck();
    expect(output).toContain('src/gen/ and clients/ts/gen/ are up to date with proto/');
    expect(status).toBe(0);
  });

  /** A copy of `folder` (relative to the root) with one generated file edited by hand. */
  function editedCopy(folder: string): string {
    const copy = mkdtempSync(join(tmpdir(), 'stepwise-stale-gen-'));
    scratchDirs.push(copy);
    cpSync(join(process.cwd(), folder), copy, { recursive: true });
    const file = join(copy, 'stepwise', 'v1', 'stepwise.ts');
    writeFileSync(file, `${readFileSync(file, 'utf8')}\n// edited by hand\n`);
    return copy;
  }

  it('a copy of src/gen with one edited file is reported as stale', () => {
    const copy = editedCopy('src/gen');
    const { status, output } = runCheck(copy);
    expect(status).toBe(1);
    expect(output).toContain(`${copy}: stale:   stepwise/v1/stepwise.ts`);
  });

  it("a copy of the client package's clients/ts/gen with one edited file is reported as stale", () => {
    const copy = editedCopy('clients/ts/gen');
    const { status, output } = runCheck('--client', copy);
    expect(status).toBe(1);
    expect(output).toContain(`${copy}: stale:   stepwise/v1/stepwise.ts`);
  });
});

/**
 * `--model NAME=DIR` (repeatable): NAME=DIR names a model, a bare DIR is named after its folder, the first is
 * the default, two with one name are refused in one line naming both; from flags, the environment and a
 * config file's list alike.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { checkModelNames, readModelArgument } from '../../../src/cli/model-option.js';
import { addOptions, OptionError, resolveOptions } from '../../../src/cli/option-table.js';
import { SERVE_OPTIONS } from '../../../src/cli/serve-options.js';

/** `--model` alone, read as `stepwise serve` reads it. */
async function models(argv: string[], env: Record<string, string> = {}, config?: string) {
  const table = { model: SERVE_OPTIONS.model };
  const command = new Command().exitOverride();
  addOptions(command, table);
  command.parse(argv, { from: 'user' });
  const settings = await resolveOptions(table, command.opts(), env, config);
  checkModelNames(settings.model);
  return settings.model;
}

const refuse = (rule: string): never => {
  throw new OptionError(rule);
};

describe('--model', () => {
  it('reads NAME=DIR as a name and a folder, split at the first "="', () => {
    expect(readModelArgument('small=models/t5=small', refuse)).toEqual({ name: 'small', dir: 'models/t5=small', bare: false });
  });

  it('names a bare DIR after its folder, a trailing slash or a relative path included', () => {
    expect(readModelArgument('models/flan-t5-base/', refuse)).toEqual({ name: 'flan-t5-base', dir: 'models/flan-t5-base/', bare: true });
    expect(readModelArgument('/srv/models/t5-small', refuse).name).toBe('t5-small');
  });

  it('refuses an empty or odd NAME, and NAME= without a folder', () => {
    expect(() => readModelArgument('=models/a', refuse)).toThrow(/NAME of 1 to 64 letters/);
    expect(() => readModelArgument('my model=models/a', refuse)).toThrow(/NAME of 1 to 64 letters/);
    expect(() => readModelArgument('-a=models/a', refuse)).toThrow(/NAME of 1 to 64 letters/);
    expect(() => readModelArgument('small=', refuse)).toThrow('with a folder after "="');
  });

  it('keeps the order given: the first is the default', async () => {
    expect(await models(['--model', 'b=models/x', '--model', 'models/a'])).toEqual([
      { name: 'b', dir: 'models/x', bare: false },
      { name: 'a', dir: 'models/a', bare: true },
    ]);
  });

  it('is empty when not given (the embedded model is served)', async () => {
    expect(await models([])).toEqual([]);
  });

  it('refuses two models with one name in one line naming both', async () => {
    await expect(models(['--model', 'models/t5-small', '--model', 't5-small=other/t5'])).rejects.toThrow(
      new OptionError('`--model` names two models "t5-small": models/t5-small and t5-small=other/t5; give each its own name with NAME=DIR'),
    );
    await expect(models(['--model', 'a=one/x', '--model', 'a=two/y'])).rejects.toThrow(/"a": a=one\/x and a=two\/y/);
  });

  it('reads a comma-separated list from STEPWISE_MODEL and a list from the config file', async () => {
    expect((await models([], { STEPWISE_MODEL: 'a=models/x,models/y' })).map((model) => model.name)).toEqual(['a', 'y']);
    const folder = mkdtempSync(join(tmpdir(), 'stepwise-models-'));
    const config = join(folder, 'serve.yaml');
    writeFileSync(config, 'model:\n  - small=models/t5-small\n  - models/flan-t5-base\n');
    expect(await models([], {}, config)).toEqual([
      { name: 'small', dir: 'models/t5-small', bare: false },
      { name: 'flan-t5-base', dir: 'models/flan-t5-base', bare: true },
    ]);
  });

  it('is written to the start-up line as it was given', () => {
    expect(JSON.stringify([readModelArgument('small=models/t5', refuse), readModelArgument('models/flan', refuse)])).toBe('["small=models/t5","models/flan"]');
  });

  it('names the source of a bad value', async () => {
    await expect(models(['--model', 'a b=x'])).rejects.toThrow(/^`--model` must be DIR or NAME=DIR, NAME of 1 to 64/);
  });
});

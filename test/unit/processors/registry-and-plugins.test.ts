/**
 * The registry is assembled by tsyringe from every definition registered under one token (built-ins and
 * plugins); names are unique; plugin modules add processors that are listed and used like built-ins.
 */
import 'reflect-metadata';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { container } from 'tsyringe';
import { afterAll, describe, expect, it } from 'vitest';
import { BUILTIN_PROCESSORS } from '../../../src/processors/builtin/index.js';
import { DuplicateProcessorError, PluginLoadError } from '../../../src/processors/errors.js';
import { processorSpec } from '../../../src/processors/param-values.js';
import { Pipeline } from '../../../src/processors/pipeline.js';
import { loadProcessorPlugins } from '../../../src/processors/plugins.js';
import { ProcessorRegistry, registerBuiltinProcessors } from '../../../src/processors/registry.js';
import { PROCESSOR_DEFINITION } from '../../../src/tokens.js';
import { staticContext, stepAt } from './test-context.js';

const BUILTIN_NAMES = [
  'repetition_penalty', 'encoder_repetition_penalty', 'temperature', 'top_k', 'top_p', 'min_p', 'typical_p',
  'epsilon_cutoff', 'eta_cutoff', 'no_repeat_ngram_size', 'encoder_no_repeat_ngram_size', 'bad_words_ids',
  'sequence_bias', 'min_length', 'min_new_tokens', 'forced_bos_token_id', 'forced_eos_token_id', 'suppress_tokens',
  'begin_suppress_tokens', 'exponential_decay_length_penalty', 'renormalize_logits', 'remove_invalid_values',
  'allow_tokens', 'ban_tokens', 'force_token_at', 'choice', 'regex',
];

function freshContainer() {
  const child = container.createChildContainer();
  registerBuiltinProcessors(child);
  return child;
}

const folders: string[] = [];
afterAll(() => folders.forEach((folder) => rmSync(folder, { recursive: true, force: true })));

/** Writes a plugin module into a temporary folder and returns its path. */
function pluginFile(source: string): string {
  const folder = mkdtempSync(join(tmpdir(), 'stepwise-plugin-'));
  folders.push(folder);
  const path = join(folder, 'plugin.mjs');
  writeFileSync(path, source);
  return path;
}

describe('registry', () => {
  it('resolves every built-in, named after the Hugging Face config fields', () => {
    const registry = freshContainer().resolve(ProcessorRegistry);
    expect(registry.names()).toEqual([...BUILTIN_NAMES].sort());
    expect(registry.describe().find((entry) => entry.name === 'top_k')?.parameters.map((p) => p.name)).toEqual([
      'top_k',
      'min_tokens_to_keep',
    ]);
  });

  it('refuses a name registered twice when it is built', () => {
    const child = freshContainer();
    child.register(PROCESSOR_DEFINITION, { useValue: BUILTIN_PROCESSORS.find((d) => d.name === 'top_p')! });
    expect(() => child.resolve(ProcessorRegistry)).toThrow(DuplicateProcessorError);
    expect(() => child.resolve(ProcessorRegistry)).toThrow('processor `top_p` is registered twice');
  });
});

describe('plugins', () => {
  it('the example plugin registers vowel_bias, which is listed, validated and used like a built-in', async () => {
    const child = freshContainer();
    expect(await loadProcessorPlugins(child, ['examples/plugins/vowel-bias.mjs'])).toEqual(['vowel_bias']);
    const registry = child.resolve(ProcessorRegistry);
    expect(registry.describe().find((entry) => entry.name === 'vowel_bias')?.parameters).toEqual([
      expect.objectContaining({ name: 'bias', type: 'float', required: true }),
    ]);

    const context = staticContext({ vocabulary: ['<pad>', '</s>', '<unk>', '▁apple', 'Ox', '▁tree', 'e', '▁'] });
    const pipeline = Pipeline.build(registry, [processorSpec('vowel_bias', { bias: 2.5 })], context);
    const row = new Float32Array(8);
    pipeline.run(row, stepAt([0]));
    expect(Array.from(row)).toEqual([0, 0, 0, 2.5, 2.5, 0, 2.5, 0]);
    expect(() => Pipeline.build(registry, [processorSpec('vowel_bias', {})], context)).toThrow('`bias` is required');
  });

  it('accepts a default export listing definitions', async () => {
    const path = pluginFile(`
      export default [{
        name: 'shift_all', description: 'Adds 1 to every score.', parameters: [],
        validate: () => ({}), create: () => ({ name: 'shift_all', apply: (row) => { for (let i = 0; i < row.length; i++) row[i] += 1; }, isArgmaxInvariant: () => true }),
      }];`);
    const child = freshContainer();
    expect(await loadProcessorPlugins(child, [path])).toEqual(['shift_all']);
    expect(child.resolve(ProcessorRegistry).has('shift_all')).toBe(true);
  });

  it('refuses a plugin reusing a registered name, naming the plugin', async () => {
    const path = pluginFile(`
      export function register(api) {
        api.registerProcessor(api.defineProcessor({ name: 'top_k', description: 'A second top_k.', parameters: {}, create: () => null }));
      }`);
    await expect(loadProcessorPlugins(freshContainer(), [path])).rejects.toThrow(
      `processor \`top_k\` is registered twice (again by ${path})`,
    );
  });

  it('refuses modules that cannot be imported or do not follow the API', async () => {
    await expect(loadProcessorPlugins(freshContainer(), ['./no/such/plugin.mjs'])).rejects.toThrow(PluginLoadError);
    await expect(loadProcessorPlugins(freshContainer(), [pluginFile('export const nothing = 1;')])).rejects.toThrow(
      'exports neither `register(api)` nor a default array of processor definitions',
    );
    await expect(loadProcessorPlugins(freshContainer(), [pluginFile("export default [{ name: 'Bad Name' }];")])).rejects.toThrow(
      'processor name "Bad Name" must be lower snake case',
    );
    await expect(
      loadProcessorPlugins(freshContainer(), [pluginFile("export function register() { throw new Error('no model'); }")]),
    ).rejects.toThrow('register() failed: no model');
  });
});

/**
 * `stepwise make-model`: writes a random-weight T5 model folder in the Optimum / transformers.js
 * layout (config, tokenizer, safetensors weights, the four ONNX files).
 */
import { statSync, readdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Command, InvalidArgumentError, Option } from 'commander';
import { buildModel } from '../builder/build-model.js';
import { feedForwardProjs, presetNames, type FeedForwardProj, type PresetName } from '../builder/model-spec.js';

function integerOption(flag: string, min: number, max: number) {
  return (value: string): number => {
    const parsed = Number(value);
    if (!/^\d+$/.test(value.trim()) || parsed < min || parsed > max) {
      throw new InvalidArgumentError(`\`${flag}\` must be an integer in [${min}, ${max}]; given ${value}`);
    }
    return parsed;
  };
}

interface MakeModelFlags {
  preset: PresetName;
  out: string;
  seed: number;
  feedForwardProj: FeedForwardProj;
  tieWordEmbeddings: boolean;
  tokenizer?: string;
  padVocabToMultiple?: number;
}

function listFiles(folder: string): Array<[string, number]> {
  const files: Array<[string, number]> = [];
  for (const entry of readdirSync(folder, { withFileTypes: true })) {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) files.push(...listFiles(path));
    else files.push([path, statSync(path).size]);
  }
  return files;
}

export function register(program: Command): void {
  program
    .command('make-model')
    .description('Write a random-weight T5 model folder (config, tokenizer, model.safetensors, onnx/*.onnx) in the Optimum layout.')
    .addOption(new Option('--preset <name>', 'model shapes').choices(presetNames).makeOptionMandatory())
    .requiredOption('--out <dir>', 'folder to write (replaced if it exists)')
    .option('--seed <n>', 'seed of the random weights; the same seed gives identical files', integerOption('--seed', 0, 0xffffffff), 0)
    .addOption(new Option('--feed-forward-proj <kind>', 'feed-forward of every block').choices(feedForwardProjs).default('relu'))
    .option('--no-tie-word-embeddings', 'separate lm_head (and no d_model**-0.5 scaling of the logits)')
    .option('--tokenizer <path>', 'a tokenizer.json to ship instead of the built-in one; vocab_size follows its size')
    .option('--pad-vocab-to-multiple <n>', 'round vocab_size up to a multiple of n (t5-small: 32100 -> 32128 with 128)', integerOption('--pad-vocab-to-multiple', 1, 65536))
    .action(async (flags: MakeModelFlags) => {
      const started = performance.now();
      const spec = await buildModel({
        preset: flags.preset,
        out: flags.out,
        seed: flags.seed,
        feedForwardProj: flags.feedForwardProj,
        tieWordEmbeddings: flags.tieWordEmbeddings,
        ...(flags.tokenizer === undefined ? {} : { tokenizerPath: flags.tokenizer }),
        ...(flags.padVocabToMultiple === undefined ? {} : { padVocabToMultiple: flags.padVocabToMultiple }),
      });
      const seconds = (performance.now() - started) / 1000;
      const out = resolve(flags.out);
      const shape = `d_model ${spec.dModel}, ${spec.numLayers}+${spec.numDecoderLayers} layers, ${spec.numHeads} heads, d_kv ${spec.dKv}, d_ff ${spec.dFf}, vocab ${spec.vocabSize}, ${spec.feedForwardProj}, ${spec.tieWordEmbeddings ? 'tied' : 'untied'}`;
      process.stdout.write(`Wrote ${out} (${spec.presetName}: ${shape}; seed ${spec.seed}) in ${seconds.toFixed(2)} s\n`);
      for (const [path, size] of listFiles(out).sort()) {
        process.stdout.write(`  ${relative(out, path).padEnd(36)} ${(size / 1e6).toFixed(3).padStart(10)} MB\n`);
      }
    });
}

/**
 * `stepwise make-model`: writes a random-weight T5 model folder in the Optimum / transformers.js
 * layout (config, tokenizer, safetensors weights, the ONNX files). It refuses to replace a folder it did not
 * write (`--force` replaces it), reports each file on stderr as it is written (a t5-small build takes
 * seconds), and a failure is one line on stderr naming the file, with exit code 1.
 */
import { statSync, readdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Command, InvalidArgumentError, Option } from 'commander';
import { buildModel, type BuildProgress } from '../builder/build-model.js';
import { buildDtypes, float16IoChoices, parseBuildDtypes, type BuildDtype, type Float16Io } from '../builder/model-variants.js';
import {
  decoderFileChoices,
  feedForwardProjs,
  presetNames,
  type DecoderFiles,
  type FeedForwardProj,
  type ModelSpec,
  type PresetName,
} from '../builder/model-spec.js';

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
  decoders: DecoderFiles;
  dtypes: BuildDtype[];
  float16Io: Float16Io;
  force: boolean;
}

function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(3).padStart(10)} MB`;
}

function describeShape(spec: ModelSpec): string {
  return `d_model ${spec.dModel}, ${spec.numLayers}+${spec.numDecoderLayers} layers, ${spec.numHeads} heads, d_kv ${spec.dKv}, d_ff ${spec.dFf}, vocab ${spec.vocabSize}, ${spec.feedForwardProj}, ${spec.tieWordEmbeddings ? 'tied' : 'untied'}`;
}

/** Builds quicker than this (the tiny preset) print no progress, only the summary. */
const PROGRESS_AFTER_MS = 1_000;

/** One progress line on stderr per file written, once the build has taken a second. */
function reportProgress({ file, bytes, elapsedMs }: BuildProgress): void {
  if (elapsedMs < PROGRESS_AFTER_MS) return;
  process.stderr.write(`  wrote ${file.padEnd(36)} ${megabytes(bytes)}  at ${(elapsedMs / 1000).toFixed(1)} s\n`);
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
    .requiredOption('--out <dir>', 'folder to write: a new or empty folder, or one make-model wrote before (replaced)')
    .option('--force', 'replace --out even when it is not a model folder make-model wrote, with everything in it', false)
    .addOption(
      new Option('--decoders <which>', 'decoder files: merged (what stepwise serve and transformers.js load), split (decoder_model + decoder_with_past_model), or both')
        .choices(decoderFileChoices)
        .default('both'),
    )
    .option(
      '--dtypes <list>',
      `weight formats to write, comma-separated: ${buildDtypes.join(', ')} (fp16 = *_fp16.onnx, q8 = *_quantized.onnx, as transformers.js names them)`,
      (value: string) => {
        try {
          return parseBuildDtypes(value);
        } catch (error) {
          throw new InvalidArgumentError((error as Error).message.replace('`dtypes`', '`--dtypes`'));
        }
      },
      ['fp32'] as BuildDtype[],
    )
    .addOption(
      new Option('--float16-io <type>', 'inputs and outputs of the fp16 files: float32 (casts at the edges, as transformers.js makes them) or float16 (as older tools did)')
        .choices(float16IoChoices)
        .default('float32'),
    )
    .option('--seed <n>', 'seed of the random weights; the same seed gives identical files', integerOption('--seed', 0, 0xffffffff), 0)
    .addOption(new Option('--feed-forward-proj <kind>', 'feed-forward of every block').choices(feedForwardProjs).default('relu'))
    .option('--no-tie-word-embeddings', 'separate lm_head (and no d_model**-0.5 scaling of the logits)')
    .option('--tokenizer <path>', 'a tokenizer.json to ship instead of the built-in one; vocab_size follows its size')
    .option('--pad-vocab-to-multiple <n>', 'round vocab_size up to a multiple of n (t5-small: 32100 -> 32128 with 128)', integerOption('--pad-vocab-to-multiple', 1, 65536))
    .action(async (flags: MakeModelFlags) => {
      try {
        await makeModel(flags);
      } catch (error) {
        // Refusals, bad options and file failures (EACCES, ENOSPC, ...) are one line naming the cause, no stack.
        process.stderr.write(`make-model: ${error instanceof Error ? error.message : String(error)}\n`);
        process.exitCode = 1;
      }
    });
}

async function makeModel(flags: MakeModelFlags): Promise<void> {
  const started = performance.now();
  const out = resolve(flags.out);
  const formats = flags.dtypes.join(',') === 'fp32' ? '' : `, dtypes ${flags.dtypes.join(',')}`;
  process.stderr.write(`make-model: building ${flags.preset} (seed ${flags.seed}, decoders ${flags.decoders}${formats}) into ${out}\n`);
  const spec = await buildModel({
    preset: flags.preset,
    out: flags.out,
    force: flags.force,
    decoders: flags.decoders,
    dtypes: flags.dtypes,
    float16Io: flags.float16Io,
    seed: flags.seed,
    feedForwardProj: flags.feedForwardProj,
    tieWordEmbeddings: flags.tieWordEmbeddings,
    ...(flags.tokenizer === undefined ? {} : { tokenizerPath: flags.tokenizer }),
    ...(flags.padVocabToMultiple === undefined ? {} : { padVocabToMultiple: flags.padVocabToMultiple }),
    onProgress: reportProgress,
  });
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(`Wrote ${out} (${spec.presetName}: ${describeShape(spec)}; seed ${spec.seed}) in ${seconds.toFixed(2)} s\n`);
  for (const [path, size] of listFiles(out).sort()) {
    process.stdout.write(`  ${relative(out, path).padEnd(36)} ${megabytes(size)}\n`);
  }
}

/**
 * Writes a complete T5 model folder in the Optimum / transformers.js layout:
 *
 * ```
 * out/config.json  generation_config.json  tokenizer.json  tokenizer_config.json  special_tokens_map.json
 * out/model.safetensors                    (every weight under its Hugging Face name)
 * out/onnx/encoder_model.onnx  decoder_model.onnx  decoder_with_past_model.onnx  decoder_model_merged.onnx
 * ```
 *
 * Usage:
 * ```ts
 * await buildModel({ preset: 'tiny', seed: 1, out: '.cache/models/tiny' });      // always writes
 * await ensureModel({ preset: 'tiny', seed: 1, out: '.cache/models/tiny' });     // writes only if stale
 * ```
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { t5ConfigJson, generationConfigJson } from './config-files.js';
import { buildDecoderModel, buildDecoderWithPastModel, buildMergedDecoderModel } from './decoder-graphs.js';
import { buildEncoderModel } from './encoder-graph.js';
import { resolveModelSpec, validateModelOptions, type ModelOptions, type ModelSpec } from './model-spec.js';
import { writeSafetensors } from './safetensors.js';
import { builtInTokenizer, tokenizerFromFile, type TokenizerFiles } from './t5-tokenizer.js';
import { WeightBank } from './t5-layers.js';
import { initializeWeights } from './t5-weights.js';

export interface BuildModelOptions extends ModelOptions {
  /** The folder to write (created; an existing one is replaced). */
  readonly out: string;
}

/** The file that records how a folder was built, so `ensureModel` can reuse it. */
export const buildStampFile = '.stepwise-build.json';

export const onnxFileNames = {
  encoder: 'encoder_model.onnx',
  decoder: 'decoder_model.onnx',
  decoderWithPast: 'decoder_with_past_model.onnx',
  decoderMerged: 'decoder_model_merged.onnx',
} as const;

function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/**
 * A digest of the builder's own source: a folder built by an older builder is rebuilt, so that tests
 * never run on fixtures the current code would not produce.
 */
function builderFingerprint(): string {
  const folder = dirname(fileURLToPath(import.meta.url));
  const hash = createHash('sha256');
  for (const name of readdirSync(folder).filter((file) => /\.(ts|js)$/.test(file)).sort()) {
    hash.update(name).update(readFileSync(join(folder, name)));
  }
  return hash.digest('hex').slice(0, 16);
}

/** What the stamp records: the options (with the tokenizer file's digest) and the builder's digest. */
async function buildStamp(options: ModelOptions): Promise<Record<string, unknown>> {
  const tokenizer = options.tokenizerPath === undefined
    ? null
    : { path: resolve(options.tokenizerPath), sha256: createHash('sha256').update(await readFile(options.tokenizerPath)).digest('hex') };
  return {
    preset: options.preset,
    seed: options.seed ?? 0,
    feedForwardProj: options.feedForwardProj ?? 'relu',
    tieWordEmbeddings: options.tieWordEmbeddings ?? true,
    padVocabToMultiple: options.padVocabToMultiple ?? 1,
    tokenizer,
    builder: builderFingerprint(),
  };
}

/** Writes every file of the folder into `folder` (which must exist). Returns the resolved spec. */
async function writeModelFiles(folder: string, options: ModelOptions, tokenizer: TokenizerFiles): Promise<ModelSpec> {
  const spec = resolveModelSpec(options, tokenizer.size);
  await writeFile(join(folder, 'config.json'), json(t5ConfigJson(spec)));
  await writeFile(join(folder, 'generation_config.json'), json(generationConfigJson()));
  for (const [name, contents] of tokenizer.files) await writeFile(join(folder, name), contents);

  const tensors = initializeWeights(spec);
  await writeSafetensors(join(folder, 'model.safetensors'), tensors);
  const weights = new WeightBank(tensors);
  const onnxFolder = join(folder, 'onnx');
  await mkdir(onnxFolder);
  // One file at a time, so that a t5-small-sized build holds at most one serialized model in memory.
  await writeFile(join(onnxFolder, onnxFileNames.encoder), buildEncoderModel(spec, weights));
  await writeFile(join(onnxFolder, onnxFileNames.decoder), buildDecoderModel(spec, weights));
  await writeFile(join(onnxFolder, onnxFileNames.decoderWithPast), buildDecoderWithPastModel(spec, weights));
  await writeFile(join(onnxFolder, onnxFileNames.decoderMerged), buildMergedDecoderModel(spec, weights));
  return spec;
}

/**
 * Builds the model folder `options.out`, replacing whatever is there. The files are written to a
 * sibling temporary folder first and moved into place at the end, so a reader (or a concurrent
 * `ensureModel`) never sees a half-written folder.
 */
export async function buildModel(options: BuildModelOptions): Promise<ModelSpec> {
  validateModelOptions(options);
  const out = resolve(options.out);
  const tokenizer = options.tokenizerPath === undefined ? builtInTokenizer() : await tokenizerFromFile(options.tokenizerPath);
  const staging = `${out}.partial-${process.pid}-${Date.now()}`;
  await mkdir(staging, { recursive: true });
  try {
    const spec = await writeModelFiles(staging, options, tokenizer);
    await writeFile(join(staging, buildStampFile), json(await buildStamp(options)));
    await rm(out, { recursive: true, force: true });
    await rename(staging, out);
    return spec;
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
}

/**
 * Builds `options.out` only if it is missing or was built with other options or by another version of
 * the builder. Returns true when it (re)built the folder.
 */
export async function ensureModel(options: BuildModelOptions): Promise<boolean> {
  validateModelOptions(options);
  const stampPath = join(resolve(options.out), buildStampFile);
  if (existsSync(stampPath)) {
    const existing = await readFile(stampPath, 'utf8');
    if (existing === json(await buildStamp(options))) return false;
  }
  await buildModel(options);
  return true;
}

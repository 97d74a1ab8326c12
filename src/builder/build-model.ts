/**
 * Writes a complete T5 model folder in the Optimum / transformers.js layout:
 *
 * ```
 * out/config.json  generation_config.json  tokenizer.json  tokenizer_config.json  special_tokens_map.json
 * out/model.safetensors                    (every weight under its Hugging Face name)
 * out/onnx/encoder_model.onnx  decoder_model_merged.onnx  decoder_model.onnx  decoder_with_past_model.onnx
 * ```
 *
 * (`dtypes` adds each file in other weight formats, `encoder_model_fp16.onnx`, `encoder_model_quantized.onnx`,
 * …, see model-variants.ts; without `fp32` in the list only the other formats are written.)
 *
 * (`decoders: 'merged'` leaves out the split pair, `'split'` the merged decoder.) An existing `out` is
 * replaced only when the builder wrote it (its `.stepwise-build.json`), when it is empty, or with `force`.
 * A file-system failure is a `BuildFileError` whose message names the file.
 *
 * Usage:
 * ```ts
 * await buildModel({ preset: 'tiny', seed: 1, out: '.cache/models/tiny' });      // always writes
 * await ensureModel({ preset: 'tiny', seed: 1, out: '.cache/models/tiny' });     // writes only if stale
 * ```
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { t5ConfigJson, generationConfigJson } from './config-files.js';
import { buildDecoderModel, buildDecoderWithPastModel, buildMergedDecoderModel } from './decoder-graphs.js';
import { buildEncoderModel } from './encoder-graph.js';
import { onFile } from './file-errors.js';
import { resolveModelSpec, validateModelOptions, type ModelOptions, type ModelSpec } from './model-spec.js';
import { buildStampFile, checkReplaceable } from './output-folder.js';
import { writeSafetensors } from './safetensors.js';
import { builtInTokenizer, tokenizerFromFile, type TokenizerFiles } from './t5-tokenizer.js';
import { WeightBank } from './t5-layers.js';
import { initializeWeights } from './t5-weights.js';
import { modelVariant, variantFileName } from './model-variants.js';
import { encodeModel } from './onnx-graph.js';
import type { onnx as OnnxTypes } from 'onnx-proto';

export { buildStampFile };

/** One file of the folder written: its path in the folder, its size, and the time since the build began. */
export interface BuildProgress {
  readonly file: string;
  readonly bytes: number;
  readonly elapsedMs: number;
}

export interface BuildModelOptions extends ModelOptions {
  /**
   * The folder to write: created, or replaced when it is a model folder the builder wrote (or empty);
   * anything else there is refused unless `force` is set.
   */
  readonly out: string;
  /** Replace `out` whatever it holds. Default false. */
  readonly force?: boolean;
  /** Called after each file is written, so that a build of many seconds can show how far it got. */
  readonly onProgress?: (progress: BuildProgress) => void;
}

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
    decoders: options.decoders ?? 'both',
    dtypes: options.dtypes ?? ['fp32'],
    float16Io: options.float16Io ?? 'float32',
    tokenizer,
    builder: builderFingerprint(),
  };
}

/**
 * Writes the files of one folder: a failure names the file as it will be in the finished folder (`shownAs`),
 * not in the temporary one being written; each file written is reported with its size.
 */
class FolderWriter {
  private readonly began = performance.now();

  constructor(
    private readonly folder: string,
    private readonly shownAs: string,
    private readonly onProgress: ((progress: BuildProgress) => void) | undefined,
  ) {}

  async mkdir(name: string): Promise<void> {
    await onFile('create the folder', join(this.shownAs, name), () => mkdir(join(this.folder, name)));
  }

  /** Writes `contents` to `name`; a function writes the file itself (to stream it). */
  async write(name: string, contents: string | Uint8Array | ((path: string) => Promise<void>)): Promise<void> {
    const path = join(this.folder, name);
    await onFile('write', join(this.shownAs, name), async () => {
      if (typeof contents === 'function') await contents(path);
      else await writeFile(path, contents);
    });
    if (this.onProgress !== undefined) {
      const { size } = await stat(path);
      this.onProgress({ file: relative(this.folder, path), bytes: size, elapsedMs: performance.now() - this.began });
    }
  }
}

/** Writes every file of the model through `writer`. Returns the resolved spec. */
async function writeModelFiles(writer: FolderWriter, options: ModelOptions, tokenizer: TokenizerFiles): Promise<ModelSpec> {
  const spec = resolveModelSpec(options, tokenizer.size);
  await writer.write('config.json', json(t5ConfigJson(spec)));
  await writer.write('generation_config.json', json(generationConfigJson()));
  for (const [name, contents] of tokenizer.files) await writer.write(name, contents);

  const tensors = initializeWeights(spec);
  await writer.write('model.safetensors', (path) => writeSafetensors(path, tensors));
  const weights = new WeightBank(tensors);
  await writer.mkdir('onnx');
  const decoders = options.decoders ?? 'both';
  const dtypes = options.dtypes ?? ['fp32'];
  const float16Io = options.float16Io ?? 'float32';
  // One graph at a time, each written in every format before the next is built, so that a t5-small-sized
  // build holds at most one graph and one serialized file in memory.
  const writeVariants = async (fileName: string, model: OnnxTypes.IModelProto): Promise<void> => {
    for (const dtype of dtypes) {
      await writer.write(join('onnx', variantFileName(fileName, dtype)), encodeModel(modelVariant(model, dtype, float16Io)));
    }
  };
  await writeVariants(onnxFileNames.encoder, buildEncoderModel(spec, weights));
  if (decoders !== 'split') await writeVariants(onnxFileNames.decoderMerged, buildMergedDecoderModel(spec, weights));
  if (decoders !== 'merged') {
    await writeVariants(onnxFileNames.decoder, buildDecoderModel(spec, weights));
    await writeVariants(onnxFileNames.decoderWithPast, buildDecoderWithPastModel(spec, weights));
  }
  return spec;
}

/**
 * Builds the model folder `options.out`, replacing what is there when the builder wrote it (see `force`).
 * The files are written to a sibling temporary folder first and moved into place at the end, so a reader
 * (or a concurrent `ensureModel`) never sees a half-written folder, and a failed build leaves the old one.
 */
export async function buildModel(options: BuildModelOptions): Promise<ModelSpec> {
  return (await buildFolder(options, false)).spec;
}

/**
 * Builds `options.out` only if it is missing or was built with other options or by another version of
 * the builder. Returns true when it (re)built the folder. Like `buildModel`, it replaces a folder only
 * when the builder wrote it (or with `force`). Processes that ensure the same folder at once (replicas
 * started together on a fresh installation) all end up with it: whichever finishes first moves its copy
 * in, and the others keep that one rather than replace it under a process already reading it.
 */
export async function ensureModel(options: BuildModelOptions): Promise<boolean> {
  validateModelOptions(options);
  const out = resolve(options.out);
  if (await isCurrent(out, json(await buildStamp(options)))) return false;
  return (await buildFolder(options, true)).built;
}

/** Whether `out` holds a build recorded exactly as `stamp`. */
async function isCurrent(out: string, stamp: string): Promise<boolean> {
  const stampPath = join(out, buildStampFile);
  return existsSync(stampPath) && (await readFile(stampPath, 'utf8').catch(() => '')) === stamp;
}

/** Writes the folder; with `keepCurrent`, a copy another process moved in meanwhile is kept instead. */
async function buildFolder(options: BuildModelOptions, keepCurrent: boolean): Promise<{ spec: ModelSpec; built: boolean }> {
  validateModelOptions(options);
  const out = resolve(options.out);
  await checkReplaceable(out, options.force ?? false);
  const tokenizer = options.tokenizerPath === undefined ? builtInTokenizer() : await tokenizerFromFile(options.tokenizerPath);
  const staging = await onFile('create a folder in', dirname(out), async () => {
    await mkdir(dirname(out), { recursive: true });
    return mkdtemp(`${out}.partial-`);
  });
  try {
    const writer = new FolderWriter(staging, out, options.onProgress);
    const spec = await writeModelFiles(writer, options, tokenizer);
    const stamp = json(await buildStamp(options));
    await writer.write(buildStampFile, stamp);
    const builtElsewhere = async (): Promise<boolean> => keepCurrent && (await isCurrent(out, stamp));
    if (await builtElsewhere()) return { spec, built: false };
    await onFile('replace', out, () => rm(out, { recursive: true, force: true }));
    try {
      await onFile('move the finished model to', out, () => rename(staging, out));
    } catch (error) {
      if (await builtElsewhere()) return { spec, built: false };
      throw error;
    }
    return { spec, built: true };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

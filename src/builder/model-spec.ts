/**
 * What a built model looks like: the named presets, the options `make-model` accepts, and the fully
 * resolved specification every other builder module reads.
 */

import type { T5Shapes } from '../runtime/types.js';
import { buildDtypes, float16IoChoices, type BuildDtype, type Float16Io } from './model-variants.js';

export type { T5Shapes };

export type FeedForwardProj = 'relu' | 'gated-gelu';
export const feedForwardProjs: readonly FeedForwardProj[] = ['relu', 'gated-gelu'];

/**
 * Which decoder files to write: the merged decoder alone (what transformers.js and `stepwise serve` load
 * by default), the split pair alone (`decoder_model` + `decoder_with_past_model`), or both. The split pair
 * doubles the decoder weights on disk (t5-small: about 1 GB in all with both).
 */
export type DecoderFiles = 'merged' | 'split' | 'both';
export const decoderFileChoices: readonly DecoderFiles[] = ['merged', 'split', 'both'];

export interface Preset extends T5Shapes {
  /** Logits width when no tokenizer file is given; undefined: the built-in tokenizer's size. */
  readonly vocabSize: number | undefined;
}

export const presets = {
  /** Small enough to build in milliseconds and run a decode step in microseconds; used by the tests. */
  tiny: {
    dModel: 32,
    dKv: 8,
    dFf: 64,
    numLayers: 2,
    numDecoderLayers: 2,
    numHeads: 4,
    relativeAttentionNumBuckets: 32,
    relativeAttentionMaxDistance: 128,
    layerNormEpsilon: 1e-6,
    vocabSize: undefined,
  },
  /** The exact shapes of Hugging Face `t5-small`, so that timings on it are true to life. */
  't5-small': {
    dModel: 512,
    dKv: 64,
    dFf: 2048,
    numLayers: 6,
    numDecoderLayers: 6,
    numHeads: 8,
    relativeAttentionNumBuckets: 32,
    relativeAttentionMaxDistance: 128,
    layerNormEpsilon: 1e-6,
    vocabSize: 32128,
  },
} as const satisfies Record<string, Preset>;

export type PresetName = keyof typeof presets;
export const presetNames = Object.keys(presets) as PresetName[];

/** The options of `make-model` (and of `buildModel` / `ensureModel` in code). */
export interface ModelOptions {
  readonly preset: PresetName;
  /** Seed of the weights; the same seed gives byte-identical files. Default 0. */
  readonly seed?: number;
  /** Default `relu` (t5-small); `gated-gelu` is T5 v1.1 / flan-t5's feed-forward. */
  readonly feedForwardProj?: FeedForwardProj;
  /** Default true (t5-small); false gives a separate `lm_head` and no `d_model**-0.5` logits scaling. */
  readonly tieWordEmbeddings?: boolean;
  /** A Hugging Face `tokenizer.json` to ship instead of the built-in one; `vocab_size` follows its size. */
  readonly tokenizerPath?: string;
  /** Rounds `vocab_size` up to a multiple of this (e.g. 128: 32100 → 32128), widening the logits. */
  readonly padVocabToMultiple?: number;
  /** Which decoder files to write; default `both`. */
  readonly decoders?: DecoderFiles;
  /** Weight formats to write, each ONNX file once per format (`_fp16`, `_quantized` suffixes); default fp32 only. */
  readonly dtypes?: readonly BuildDtype[];
  /** Inputs and outputs of the fp16 files: float32 (default, transformers.js' way) or float16 (older tools). */
  readonly float16Io?: Float16Io;
}

/** Everything needed to write the weights and graphs. */
export interface ModelSpec extends T5Shapes {
  readonly presetName: PresetName;
  readonly seed: number;
  readonly vocabSize: number;
  readonly feedForwardProj: FeedForwardProj;
  readonly tieWordEmbeddings: boolean;
}

export function isGated(spec: Pick<ModelSpec, 'feedForwardProj'>): boolean {
  return spec.feedForwardProj.startsWith('gated-');
}

/** Checks option values before anything is written; messages name the option, the range and the value. */
export function validateModelOptions(options: ModelOptions): void {
  if (!Object.hasOwn(presets, options.preset)) {
    throw new Error(`\`preset\` must be one of ${presetNames.join(', ')}; given ${JSON.stringify(options.preset)}`);
  }
  if (options.seed !== undefined && !(Number.isInteger(options.seed) && options.seed >= 0 && options.seed <= 0xffffffff)) {
    throw new Error(`\`seed\` must be an integer in [0, 4294967295]; given ${options.seed}`);
  }
  if (options.feedForwardProj !== undefined && !feedForwardProjs.includes(options.feedForwardProj)) {
    throw new Error(`\`feed-forward-proj\` must be one of ${feedForwardProjs.join(', ')}; given ${JSON.stringify(options.feedForwardProj)}`);
  }
  const multiple = options.padVocabToMultiple;
  if (multiple !== undefined && !(Number.isInteger(multiple) && multiple >= 1 && multiple <= 65536)) {
    throw new Error(`\`pad-vocab-to-multiple\` must be an integer in [1, 65536]; given ${multiple}`);
  }
  if (options.decoders !== undefined && !decoderFileChoices.includes(options.decoders)) {
    throw new Error(`\`decoders\` must be one of ${decoderFileChoices.join(', ')}; given ${JSON.stringify(options.decoders)}`);
  }
  const dtypes = options.dtypes;
  if (dtypes !== undefined && (dtypes.length === 0 || dtypes.some((dtype) => !buildDtypes.includes(dtype)))) {
    throw new Error(`\`dtypes\` must be a non-empty list of ${buildDtypes.join(', ')}; given ${JSON.stringify(dtypes)}`);
  }
  if (options.float16Io !== undefined && !float16IoChoices.includes(options.float16Io)) {
    throw new Error(`\`float16-io\` must be one of ${float16IoChoices.join(', ')}; given ${JSON.stringify(options.float16Io)}`);
  }
}

/** Fills in defaults and decides the logits width from the tokenizer's size. */
export function resolveModelSpec(options: ModelOptions, tokenizerSize: number): ModelSpec {
  validateModelOptions(options);
  const preset: Preset = presets[options.preset];
  if (preset.dKv * preset.numHeads !== preset.dModel) {
    // Optimum's and transformers.js' cache shapes assume d_kv == d_model / num_heads.
    throw new Error(`preset ${options.preset}: d_kv * num_heads must equal d_model; given ${preset.dKv} * ${preset.numHeads} != ${preset.dModel}`);
  }
  const baseVocab = options.tokenizerPath === undefined && preset.vocabSize !== undefined ? preset.vocabSize : tokenizerSize;
  if (baseVocab < tokenizerSize) {
    throw new Error(`vocab_size ${baseVocab} of preset ${options.preset} is smaller than the tokenizer's ${tokenizerSize} ids`);
  }
  const multiple = options.padVocabToMultiple ?? 1;
  return {
    ...preset,
    presetName: options.preset,
    seed: options.seed ?? 0,
    vocabSize: Math.ceil(baseVocab / multiple) * multiple,
    feedForwardProj: options.feedForwardProj ?? 'relu',
    tieWordEmbeddings: options.tieWordEmbeddings ?? true,
  };
}

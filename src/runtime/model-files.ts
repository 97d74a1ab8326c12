/**
 * Locates the ONNX files of a model folder: the encoder, and either the merged decoder or the split
 * pair (`decoder_model` + `decoder_with_past_model`), in the requested dtype.
 *
 * Layout (onnx-layout.md §1): transformers.js keeps the ONNX files in an `onnx/` subfolder, while a
 * plain Optimum export writes them next to `config.json`; both are accepted, `onnx/` first. The dtype
 * picks a file-name suffix (`encoder_model_quantized.onnx` for q8), as in transformers.js.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';

import { InvalidInputError, ModelFolderError } from './errors.js';
import type { ModelDtype } from './types.js';

/** File-name suffix of each dtype (transformers.js `DEFAULT_DTYPE_SUFFIX_MAPPING`). */
export const DTYPE_SUFFIXES: Readonly<Record<ModelDtype, string>> = {
  fp32: '',
  fp16: '_fp16',
  q8: '_quantized',
  int8: '_int8',
  uint8: '_uint8',
  q4: '_q4',
  q4f16: '_q4f16',
  bnb4: '_bnb4',
};

/** Folders searched for ONNX files, relative to the model folder, in order. */
const ONNX_FOLDERS = ['onnx', '.'] as const;

export const ENCODER_BASE_NAME = 'encoder_model';
export const MERGED_DECODER_BASE_NAME = 'decoder_model_merged';
export const DECODER_BASE_NAME = 'decoder_model';
export const DECODER_WITH_PAST_BASE_NAME = 'decoder_with_past_model';

/** Which decoder files to use: `auto` prefers the merged file and falls back to the split pair. */
export type DecoderLayoutChoice = 'auto' | 'merged' | 'split';

/** One located file: its absolute path and its path relative to the model folder (used in messages). */
export interface ModelFile {
  readonly path: string;
  readonly relativePath: string;
}

export type ModelFiles =
  | { readonly layout: 'merged'; readonly encoder: ModelFile; readonly mergedDecoder: ModelFile }
  | {
      readonly layout: 'split';
      readonly encoder: ModelFile;
      readonly decoder: ModelFile;
      readonly decoderWithPast: ModelFile;
    };

export function dtypeSuffix(dtype: string): string {
  const suffix = (DTYPE_SUFFIXES as Record<string, string>)[dtype];
  if (suffix === undefined) {
    throw new InvalidInputError(`\`dtype\` must be one of ${Object.keys(DTYPE_SUFFIXES).join(', ')}; given ${JSON.stringify(dtype)}`);
  }
  return suffix;
}

export async function locateModelFiles(
  dir: string,
  dtype: ModelDtype = 'fp32',
  layout: DecoderLayoutChoice = 'auto',
): Promise<ModelFiles> {
  const suffix = dtypeSuffix(dtype);
  const find = (base: string) => findOnnxFile(dir, `${base}${suffix}.onnx`);
  const [encoder, mergedDecoder, decoder, decoderWithPast] = await Promise.all([
    find(ENCODER_BASE_NAME),
    layout === 'split' ? undefined : find(MERGED_DECODER_BASE_NAME),
    layout === 'merged' ? undefined : find(DECODER_BASE_NAME),
    layout === 'merged' ? undefined : find(DECODER_WITH_PAST_BASE_NAME),
  ]);
  const expected = (base: string) => `onnx/${base}${suffix}.onnx`;
  if (encoder === undefined) {
    throw new ModelFolderError(expected(ENCODER_BASE_NAME), `file is missing (dtype ${dtype}); looked in ${describeFolders(dir)}`);
  }
  if (mergedDecoder !== undefined) return { layout: 'merged', encoder, mergedDecoder };
  if (decoder !== undefined && decoderWithPast !== undefined) {
    return { layout: 'split', encoder, decoder, decoderWithPast };
  }
  if (layout === 'merged') {
    throw new ModelFolderError(
      expected(MERGED_DECODER_BASE_NAME),
      `file is missing (dtype ${dtype}); looked in ${describeFolders(dir)}`,
    );
  }
  const missing = decoder === undefined ? DECODER_BASE_NAME : DECODER_WITH_PAST_BASE_NAME;
  const alternative = layout === 'auto' ? `, and there is no ${expected(MERGED_DECODER_BASE_NAME)} either` : '';
  throw new ModelFolderError(
    expected(missing),
    `file is missing (dtype ${dtype}); the split decoder needs ${expected(DECODER_BASE_NAME)} and ` +
      `${expected(DECODER_WITH_PAST_BASE_NAME)}${alternative}; looked in ${describeFolders(dir)}`,
  );
}

async function findOnnxFile(dir: string, fileName: string): Promise<ModelFile | undefined> {
  for (const folder of ONNX_FOLDERS) {
    const relativePath = folder === '.' ? fileName : `${folder}/${fileName}`;
    const path = join(dir, relativePath);
    try {
      if ((await stat(path)).isFile()) return { path, relativePath };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' && (error as NodeJS.ErrnoException).code !== 'ENOTDIR') {
        throw new ModelFolderError(relativePath, `cannot be read: ${(error as Error).message}`, { cause: error });
      }
    }
  }
  return undefined;
}

function describeFolders(dir: string): string {
  return ONNX_FOLDERS.map((folder) => (folder === '.' ? dir : join(dir, folder))).join(' and ');
}

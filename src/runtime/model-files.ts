/**
 * Locates the ONNX files of a model folder: the encoder, and either the merged decoder or the split
 * pair (`decoder_model` + `decoder_with_past_model`), in the requested dtype.
 *
 * Layout (onnx-layout.md §1): transformers.js keeps the ONNX files in an `onnx/` subfolder, while a
 * plain Optimum export writes them next to `config.json`; both are accepted, `onnx/` first. The dtype
 * picks a file-name suffix (`encoder_model_quantized.onnx` for q8), as in transformers.js, for every file
 * or per file (`encoder=fp16,decoder=q8`: `decoder` covers every decoder file).
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';

import { InvalidInputError, ModelFolderError } from './errors.js';
import type { DtypeByFile, ModelDtype, ModelDtypeChoice } from './types.js';

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

/** The file parts of a dtype choice. */
export const DTYPE_FILES = ['encoder', 'decoder'] as const;

/** Each file's format: the same for both, or as given per file. */
export function dtypeByFile(choice: ModelDtypeChoice): DtypeByFile {
  return typeof choice === 'string' ? { encoder: choice, decoder: choice } : choice;
}

/** `q8`, or `encoder=fp32,decoder=q8` when the files differ: the text `parseDtypeChoice` reads. */
export function formatDtypeChoice(choice: ModelDtypeChoice): string {
  const { encoder, decoder } = dtypeByFile(choice);
  return encoder === decoder ? encoder : `encoder=${encoder},decoder=${decoder}`;
}

/**
 * Reads `q8` (every file) or `encoder=fp32,decoder=q8` (per file; a file not named is fp32). A per-file
 * choice that names one format for both becomes that format. Throws `InvalidInputError` naming the part.
 */
export function parseDtypeChoice(text: string): ModelDtypeChoice {
  const names = Object.keys(DTYPE_SUFFIXES).join(', ');
  if (!text.includes('=')) {
    dtypeSuffix(text.trim());
    return text.trim() as ModelDtype;
  }
  const byFile: Record<string, ModelDtype> = { encoder: 'fp32', decoder: 'fp32' };
  for (const part of text.split(',')) {
    const [file, dtype, ...rest] = part.split('=').map((piece) => piece.trim());
    if (!(DTYPE_FILES as readonly string[]).includes(file ?? '') || rest.length > 0 || dtype === undefined) {
      throw new InvalidInputError(
        `\`dtype\` must be one of ${names}, or per file as encoder=DTYPE,decoder=DTYPE; given ${JSON.stringify(text)} (${JSON.stringify(part)} is not FILE=DTYPE with FILE encoder or decoder)`,
      );
    }
    if (!Object.hasOwn(DTYPE_SUFFIXES, dtype)) {
      throw new InvalidInputError(`\`dtype\` for the ${file} must be one of ${names}; given ${JSON.stringify(dtype)} in ${JSON.stringify(text)}`);
    }
    byFile[file!] = dtype as ModelDtype;
  }
  const { encoder, decoder } = byFile as unknown as DtypeByFile;
  return encoder === decoder ? encoder : { encoder, decoder };
}

/** Checks a choice given in code (a string, or `{ encoder, decoder }`). */
export function checkDtypeChoice(choice: unknown): void {
  if (typeof choice === 'string') {
    dtypeSuffix(choice);
    return;
  }
  const byFile = (choice ?? {}) as Record<string, unknown>;
  if (typeof choice !== 'object' || Object.keys(byFile).some((key) => !(DTYPE_FILES as readonly string[]).includes(key))) {
    throw new InvalidInputError(`\`dtype\` must be a dtype name or { encoder, decoder }; given ${JSON.stringify(choice)}`);
  }
  for (const file of DTYPE_FILES) dtypeSuffix(String(byFile[file]));
}

export async function locateModelFiles(
  dir: string,
  dtype: ModelDtypeChoice = 'fp32',
  layout: DecoderLayoutChoice = 'auto',
): Promise<ModelFiles> {
  const dtypes = dtypeByFile(dtype);
  const suffixOf = (base: string) => dtypeSuffix(base === ENCODER_BASE_NAME ? dtypes.encoder : dtypes.decoder);
  const find = (base: string) => findOnnxFile(dir, `${base}${suffixOf(base)}.onnx`);
  const [encoder, mergedDecoder, decoder, decoderWithPast] = await Promise.all([
    find(ENCODER_BASE_NAME),
    layout === 'split' ? undefined : find(MERGED_DECODER_BASE_NAME),
    layout === 'merged' ? undefined : find(DECODER_BASE_NAME),
    layout === 'merged' ? undefined : find(DECODER_WITH_PAST_BASE_NAME),
  ]);
  const expected = (base: string) => `onnx/${base}${suffixOf(base)}.onnx`;
  const missing = async (base: string, detail: string) =>
    new ModelFolderError(
      expected(base),
      `file is missing (dtype ${base === ENCODER_BASE_NAME ? dtypes.encoder : dtypes.decoder}${typeof dtype === 'string' ? '' : `, asked for as ${formatDtypeChoice(dtype)}`})` +
        `${detail}; looked in ${describeFolders(dir)}; ${await describePresentDtypes(dir, base)}`,
    );
  if (encoder === undefined) throw await missing(ENCODER_BASE_NAME, '');
  if (mergedDecoder !== undefined) return { layout: 'merged', encoder, mergedDecoder };
  if (decoder !== undefined && decoderWithPast !== undefined) {
    return { layout: 'split', encoder, decoder, decoderWithPast };
  }
  if (layout === 'merged') throw await missing(MERGED_DECODER_BASE_NAME, '');
  if (layout === 'auto' && decoder === undefined && decoderWithPast === undefined) {
    // Neither decoder layout is there: name the merged file, the one looked for first.
    throw await missing(MERGED_DECODER_BASE_NAME, `, and neither is the split pair ${expected(DECODER_BASE_NAME)}, ${expected(DECODER_WITH_PAST_BASE_NAME)}`);
  }
  const absent = decoder === undefined ? DECODER_BASE_NAME : DECODER_WITH_PAST_BASE_NAME;
  const alternative = layout === 'auto' ? `, and there is no ${expected(MERGED_DECODER_BASE_NAME)} either` : '';
  throw await missing(
    absent,
    `; the split decoder needs ${expected(DECODER_BASE_NAME)} and ${expected(DECODER_WITH_PAST_BASE_NAME)}${alternative}`,
  );
}

/** Which formats of file `base` the folder does hold, for the message about a missing one. */
async function describePresentDtypes(dir: string, base: string): Promise<string> {
  const present: string[] = [];
  for (const [dtype, suffix] of Object.entries(DTYPE_SUFFIXES)) {
    const file = await findOnnxFile(dir, `${base}${suffix}.onnx`).catch(() => undefined);
    if (file !== undefined) present.push(`${dtype} (${file.relativePath})`);
  }
  return present.length === 0 ? `the folder has ${base} in no dtype` : `the folder has ${base} as ${present.join(', ')}`;
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

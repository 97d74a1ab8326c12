/**
 * The weight formats `make-model --dtypes` writes, each as a transformation of the fp32 graph, under the
 * file-name suffix transformers.js and Optimum give it (`encoder_model_fp16.onnx`,
 * `decoder_model_merged_quantized.onnx`, …).
 */
import type { onnx as OnnxTypes } from 'onnx-proto';
import { quantizeDynamic } from './dynamic-quantization.js';
import { convertToFloat16 } from './float16-conversion.js';

export type BuildDtype = 'fp32' | 'fp16' | 'q8';
export const buildDtypes: readonly BuildDtype[] = ['fp32', 'fp16', 'q8'];

/** transformers.js `DEFAULT_DTYPE_SUFFIX_MAPPING`, for the formats the builder writes. */
export const buildDtypeSuffixes: Readonly<Record<BuildDtype, string>> = { fp32: '', fp16: '_fp16', q8: '_quantized' };

/**
 * How fp16 files declare their inputs and outputs: `float32` (transformers.js' `keep_io_types=True`, with
 * casts at the edges) or `float16` (what older tools wrote: every float tensor in and out is float16).
 */
export type Float16Io = 'float32' | 'float16';
export const float16IoChoices: readonly Float16Io[] = ['float32', 'float16'];

/** `encoder_model.onnx` → `encoder_model_fp16.onnx`. */
export function variantFileName(fileName: string, dtype: BuildDtype): string {
  return fileName.replace(/\.onnx$/, `${buildDtypeSuffixes[dtype]}.onnx`);
}

/** The file of `dtype` made from the fp32 model. */
export function modelVariant(model: OnnxTypes.IModelProto, dtype: BuildDtype, float16Io: Float16Io = 'float32'): OnnxTypes.IModelProto {
  switch (dtype) {
    case 'fp32':
      return model;
    case 'fp16':
      return convertToFloat16(model, { keepIoTypes: float16Io === 'float32' });
    case 'q8':
      return quantizeDynamic(model);
  }
}

/** Parses `fp32,fp16,q8` (order and repeats do not matter); the message names the flag and the choices. */
export function parseBuildDtypes(text: string): BuildDtype[] {
  const names = text.split(',').map((name) => name.trim()).filter((name) => name !== '');
  const unknown = names.filter((name) => !(buildDtypes as readonly string[]).includes(name));
  if (names.length === 0 || unknown.length > 0) {
    throw new Error(`\`dtypes\` must be a comma-separated list of ${buildDtypes.join(', ')}; given ${JSON.stringify(text)}`);
  }
  return buildDtypes.filter((dtype) => names.includes(dtype));
}

/**
 * The model builder: writes a random-weight T5 folder in exactly the layout Hugging Face Optimum exports
 * and transformers.js reads (config, generation config, tokenizer, ONNX files, safetensors weights). The
 * runtime never uses it; the CLI (`make-model`, the embedded model of `serve`), the tests' fixtures and the
 * benchmark do.
 *
 * ```ts
 * const built = await ensureModel({ preset: 'tiny', seed: 0, out: '.cache/models/default' }); // false: already there
 * ```
 */
export { buildModel, ensureModel, type BuildModelOptions, type BuildProgress } from './build-model.js';
export { BuildFileError } from './file-errors.js';
export { decoderFileChoices, presetNames, presets, type DecoderFiles, type FeedForwardProj, type ModelOptions, type PresetName } from './model-spec.js';
export { OutputFolderRefused } from './output-folder.js';
export { buildDtypes, float16IoChoices, parseBuildDtypes, type BuildDtype, type Float16Io } from './model-variants.js';

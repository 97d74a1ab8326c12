/**
 * `loadModel(dir)`: reads a model folder (config, generation config, tokenizer, ONNX files), checks
 * each ONNX file against the T5 export contract, and returns a ready `ModelRuntime`. Every problem
 * with the folder surfaces here, as a `ModelFolderError` naming the file, never later at a request.
 */
import { stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';

import { InferenceSession } from 'onnxruntime-node';

import { DecoderRunner, type DecoderSessions } from './decoder-runner.js';
import { EncoderRunner } from './encoder-runner.js';
import { InvalidInputError, ModelFolderError } from './errors.js';
import { checkDtypeChoice, locateModelFiles, type ModelFile } from './model-files.js';
import { readModelConfig } from './model-config.js';
import { modelInfo } from './model-info.js';
import { checkSessionContract, type SessionRole } from './onnx-contract.js';
import { T5Model } from './t5-model.js';
import { HuggingFaceTextTokenizer, TOKENIZER_FILE, TokenizerFacts } from './text-tokenizer.js';
import type { IntraOpSpinning, LoadModelOptions, ModelRuntime } from './types.js';

/** Input length accepted when `tokenizer_config.json` sets none (T5's `n_positions`). */
export const DEFAULT_MAX_INPUT_LENGTH = 512;

const DECODER_LAYOUTS = ['auto', 'merged', 'split'] as const;
const OPTIMIZATION_LEVELS = ['disabled', 'basic', 'extended', 'all'] as const;
const TOKENIZER_KEEPS = ['full', 'facts'] as const;
export const INTRA_OP_SPINNING: readonly IntraOpSpinning[] = ['during-runs', 'always', 'off'];

/** Whether `value` names a spinning choice (a CLI flag's text, an option from JSON). */
export function isIntraOpSpinning(value: unknown): value is IntraOpSpinning {
  return (INTRA_OP_SPINNING as readonly unknown[]).includes(value);
}

/**
 * ONNX Runtime's session entries (`SessionOptions.extra.session`) for a spinning choice. By default its
 * intra-op threads keep spinning after a run returns, on the cores that the caller needs to choose the next
 * token and start the next run: a decoding loop stepping one token at a time then waits for them.
 * `session.force_spinning_stop` stops them when a run returns; they spin again from the next run's start.
 * What each choice costs is measured in bench/README.md.
 */
export function spinningSessionEntries(spinning: IntraOpSpinning): Record<string, unknown> {
  if (spinning === 'off') return { intra_op: { allow_spinning: '0' } };
  return { intra_op: { allow_spinning: '1' }, force_spinning_stop: spinning === 'during-runs' ? '1' : '0' };
}

export async function loadModel(dir: string, options: LoadModelOptions = {}): Promise<ModelRuntime> {
  checkOptions(options);
  const folder = resolve(dir);
  await checkFolder(folder);
  const { config, generation } = await readModelConfig(folder);
  const tokenizer = await HuggingFaceTextTokenizer.load(folder);
  if (tokenizer.size > config.vocabSize) {
    throw new ModelFolderError(
      TOKENIZER_FILE,
      `has ids up to ${tokenizer.size - 1}, but config.json vocab_size is ${config.vocabSize}; ` +
        'every token id must be a row of the logits',
    );
  }
  const dtype = options.dtype ?? 'fp32';
  // `{ encoder: 'q8', decoder: 'q8' }` is plain `q8`.
  const reported = typeof dtype === 'object' && dtype.encoder === dtype.decoder ? dtype.encoder : dtype;
  const files = await locateModelFiles(folder, dtype, options.decoderLayout ?? 'auto');
  const sessionOptions: InferenceSession.SessionOptions = {
    graphOptimizationLevel: options.graphOptimizationLevel ?? 'all',
    executionMode: 'sequential',
    ...(options.intraOpNumThreads !== undefined && { intraOpNumThreads: options.intraOpNumThreads }),
    ...(options.interOpNumThreads !== undefined && { interOpNumThreads: options.interOpNumThreads }),
    ...(options.enableCpuMemArena !== undefined && { enableCpuMemArena: options.enableCpuMemArena }),
    extra: { session: spinningSessionEntries(options.intraOpSpinning ?? 'during-runs') },
  };

  const opened: InferenceSession[] = [];
  const open = async (file: ModelFile, role: SessionRole) => {
    const session = await openSession(file, sessionOptions);
    opened.push(session);
    checkSessionContract(session, role, config, file.relativePath);
    return session;
  };
  try {
    const encoderSession = await open(files.encoder, 'encoder');
    const sessions: DecoderSessions =
      files.layout === 'merged'
        ? { layout: 'merged', merged: await open(files.mergedDecoder, 'merged-decoder') }
        : {
            layout: 'split',
            decoder: await open(files.decoder, 'decoder'),
            decoderWithPast: await open(files.decoderWithPast, 'decoder-with-past'),
          };
    return new T5Model({
      info: modelInfo({
        name: options.name ?? basename(folder),
        dtype: reported,
        decoderLayout: files.layout,
        config,
        generation,
        unkId: tokenizer.unkId,
        maxInputLength: options.maxInputLength ?? tokenizer.modelMaxLength ?? DEFAULT_MAX_INPUT_LENGTH,
      }),
      tokenizer: options.tokenizer === 'facts' ? new TokenizerFacts(tokenizer) : tokenizer,
      // Padding positions are masked, so the pad id only has to be a valid row of the embedding.
      encoder: new EncoderRunner(encoderSession, config.dModel, config.padTokenId),
      decoder: new DecoderRunner(sessions, config),
    });
  } catch (error) {
    await Promise.all(opened.map((session) => session.release()));
    throw error;
  }
}

async function openSession(file: ModelFile, options: InferenceSession.SessionOptions): Promise<InferenceSession> {
  try {
    return await InferenceSession.create(file.path, options);
  } catch (error) {
    throw new ModelFolderError(file.relativePath, `ONNX Runtime cannot load it: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

async function checkFolder(folder: string): Promise<void> {
  let isDirectory: boolean;
  try {
    isDirectory = (await stat(folder)).isDirectory();
  } catch {
    throw new ModelFolderError(folder, 'model folder does not exist');
  }
  if (!isDirectory) throw new ModelFolderError(folder, 'is not a folder; expected a model folder with config.json');
}

function checkOptions(options: LoadModelOptions): void {
  if (options.dtype !== undefined) checkDtypeChoice(options.dtype);
  if (options.decoderLayout !== undefined && !DECODER_LAYOUTS.includes(options.decoderLayout)) {
    throw new InvalidInputError(
      `\`decoderLayout\` must be one of ${DECODER_LAYOUTS.join(', ')}; given ${JSON.stringify(options.decoderLayout)}`,
    );
  }
  if (options.graphOptimizationLevel !== undefined && !OPTIMIZATION_LEVELS.includes(options.graphOptimizationLevel)) {
    throw new InvalidInputError(
      `\`graphOptimizationLevel\` must be one of ${OPTIMIZATION_LEVELS.join(', ')}; given ${JSON.stringify(options.graphOptimizationLevel)}`,
    );
  }
  if (options.tokenizer !== undefined && !TOKENIZER_KEEPS.includes(options.tokenizer)) {
    throw new InvalidInputError(`\`tokenizer\` must be one of ${TOKENIZER_KEEPS.join(', ')}; given ${JSON.stringify(options.tokenizer)}`);
  }
  if (options.enableCpuMemArena !== undefined && typeof options.enableCpuMemArena !== 'boolean') {
    throw new InvalidInputError(`\`enableCpuMemArena\` must be true or false; given ${JSON.stringify(options.enableCpuMemArena)}`);
  }
  if (options.intraOpSpinning !== undefined && !isIntraOpSpinning(options.intraOpSpinning)) {
    throw new InvalidInputError(
      `\`intraOpSpinning\` must be one of ${INTRA_OP_SPINNING.join(', ')}; given ${JSON.stringify(options.intraOpSpinning)}`,
    );
  }
  for (const field of ['maxInputLength', 'intraOpNumThreads', 'interOpNumThreads'] as const) {
    const value = options[field];
    if (value !== undefined && (!Number.isInteger(value) || value < 1)) {
      throw new InvalidInputError(`\`${field}\` must be an integer ≥ 1; given ${String(value)}`);
    }
  }
}

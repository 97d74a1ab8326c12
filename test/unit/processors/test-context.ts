/**
 * Contexts for processor unit tests: the six-token vocabulary of processors.md §6 (0 = start/pad, 1 = EOS),
 * or a small word-piece vocabulary with a greedy longest-match encoder for `choice` and `regex`.
 */
import { BUILTIN_PROCESSORS } from '../../../src/processors/builtin/index.js';
import { paramsFromJson } from '../../../src/processors/param-values.js';
import { ProcessorRegistry } from '../../../src/processors/registry.js';
import type { LogitsProcessor, StaticContext, StepContext } from '../../../src/processors/types.js';

export const registry = new ProcessorRegistry(BUILTIN_PROCESSORS);

export interface ContextOptions extends Partial<Omit<StaticContext, 'tokenString' | 'isSpecialToken' | 'encodeText'>> {
  /** Token strings by id; defaults to six placeholder pieces. */
  readonly vocabulary?: readonly string[];
  /** Ids that decode to no text. */
  readonly specialIds?: readonly number[];
}

export function staticContext(options: ContextOptions = {}): StaticContext {
  const vocabulary = options.vocabulary ?? ['<pad>', '</s>', '<unk>', '▁a', '▁b', '▁c'];
  const specialIds = new Set(options.specialIds ?? [0, 1, 2]);
  const pieces = vocabulary.map((piece, id) => ({ piece, id })).filter(({ id }) => !specialIds.has(id));
  return {
    vocabSize: options.vocabSize ?? vocabulary.length,
    eosTokenId: options.eosTokenId ?? 1,
    padTokenId: options.padTokenId ?? 0,
    decoderStartTokenId: options.decoderStartTokenId ?? 0,
    encoderInputIds: options.encoderInputIds ?? [],
    decoderPromptLength: options.decoderPromptLength ?? 1,
    maxLength: options.maxLength ?? 21,
    tokenString: (id) => vocabulary[id],
    isSpecialToken: (id) => specialIds.has(id),
    // SentencePiece-like: words start with "▁"; the longest vocabulary piece matching at each position wins.
    encodeText: (text) => {
      if (text.trim() === '') return [];
      const normalized = `▁${text.trim().split(/\s+/).join('▁')}`;
      const ids: number[] = [];
      for (let at = 0; at < normalized.length; ) {
        let best: { piece: string; id: number } | undefined;
        for (const candidate of pieces) {
          if (normalized.startsWith(candidate.piece, at) && candidate.piece.length > (best?.piece.length ?? 0)) best = candidate;
        }
        if (best === undefined) throw new Error(`no piece for ${JSON.stringify(normalized.slice(at))}`);
        ids.push(best.id);
        at += best.piece.length;
      }
      return ids;
    },
  };
}

/** The step context of a decoder history (prompt = the start token unless told otherwise). */
export function stepAt(history: readonly number[], promptLength = 1): StepContext {
  return { history, step: history.length - promptLength };
}

/** A processor instance from a name and JSON parameters, validated as at `Start`. */
export function createProcessor(name: string, params: Record<string, unknown>, context = staticContext()): LogitsProcessor {
  const definition = registry.get(name);
  return definition.create(definition.validate(paramsFromJson(params), context), context);
}

/** Applies one processor to a float32 copy of `scores` and returns the copy. */
export function applied(
  name: string,
  params: Record<string, unknown>,
  scores: ArrayLike<number>,
  history: readonly number[] = [0],
  context = staticContext({ vocabSize: scores.length }),
): Float32Array {
  const row = Float32Array.from(scores);
  createProcessor(name, params, context).apply(row, stepAt(history, context.decoderPromptLength));
  return row;
}

/** softmax in float64 (the distribution a row stands for). */
export function probabilities(row: ArrayLike<number>): number[] {
  const values = Array.from(row);
  const max = Math.max(...values.filter((v) => v > -Infinity));
  const weights = values.map((v) => Math.exp(v - max));
  const total = weights.reduce((a, b) => a + b, 0);
  return weights.map((w) => w / total);
}

/** Ids whose score is not -inf. */
export function survivors(row: ArrayLike<number>): number[] {
  return Array.from(row).flatMap((value, id) => (value === -Infinity ? [] : [id]));
}

/** The distribution of processors.md §6.2: probabilities 0.04, 0.20, 0.30, 0.11, 0.25, 0.10. */
export const WEIGHTS = [4, 20, 30, 11, 25, 10];
export const SECTION_6_2 = Float32Array.from(WEIGHTS.map(Math.log));

/**
 * Every built-in processor definition, listed in Hugging Face's pipeline order, then the declarative rules.
 */
import { allowTokens, banTokens, beginSuppressTokens, suppressTokens } from './token-sets.js';
import { badWordsIds, sequenceBias } from './sequence-bias.js';
import { encoderNoRepeatNgramSize, noRepeatNgramSize } from './no-repeat-ngram.js';
import { encoderRepetitionPenalty, repetitionPenalty } from './repetition-penalty.js';
import { epsilonCutoff, etaCutoff } from './entropy-cutoffs.js';
import { exponentialDecayLengthPenalty, minLength, minNewTokens } from './length-limits.js';
import { forceTokenAt, forcedBosTokenId, forcedEosTokenId } from './forced-tokens.js';
import { minP } from './min-p.js';
import { removeInvalidValues, renormalizeLogits } from './score-hygiene.js';
import { temperature } from './temperature.js';
import { topK } from './top-k.js';
import { topP } from './top-p.js';
import { typicalP } from './typical-p.js';
import { choice } from '../constrained/choice.js';
import { regex } from '../constrained/regex.js';
import type { ProcessorDefinition } from '../types.js';

export const BUILTIN_PROCESSORS: readonly ProcessorDefinition[] = [
  sequenceBias,
  encoderRepetitionPenalty,
  repetitionPenalty,
  noRepeatNgramSize,
  encoderNoRepeatNgramSize,
  badWordsIds,
  minLength,
  minNewTokens,
  forcedBosTokenId,
  forcedEosTokenId,
  removeInvalidValues,
  exponentialDecayLengthPenalty,
  suppressTokens,
  beginSuppressTokens,
  temperature,
  topK,
  topP,
  minP,
  typicalP,
  epsilonCutoff,
  etaCutoff,
  renormalizeLogits,
  allowTokens,
  banTokens,
  forceTokenAt,
  choice,
  regex,
];

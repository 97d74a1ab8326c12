/**
 * The beam search settings of a model folder's `generation_config.json` (`num_beams`, `length_penalty`,
 * `early_stopping`, `num_return_sequences`), read once at start-up. A value of the wrong type is refused
 * there, as the file's other settings are; `num_beams` of 1 or less means no beam search.
 */
import { ProcessorParameterError } from '../processors/index.js';
import type { BeamPlan } from './beam-request.js';

/** The keys this module reads (the server applies them, so they are not reported as unused). */
export const BEAM_KEYS: ReadonlySet<string> = new Set(['num_beams', 'length_penalty', 'early_stopping', 'num_return_sequences']);

export function beamDefaultsFromJson(json: Readonly<Record<string, unknown>>): BeamPlan | undefined {
  const numBeams = integer(json, 'num_beams') ?? 1;
  if (numBeams <= 1) return undefined;
  const early = json.early_stopping ?? false;
  if (early !== true && early !== false && early !== 'never') throw typeError('early_stopping', 'true, false or "never"', early);
  return {
    numBeams,
    lengthPenalty: number(json, 'length_penalty') ?? 1,
    earlyStopping: early,
    numReturnSequences: Math.min(Math.max(integer(json, 'num_return_sequences') ?? 1, 1), numBeams),
  };
}

function number(json: Readonly<Record<string, unknown>>, key: string): number | undefined {
  const value = json[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw typeError(key, 'a number', value);
  return value;
}

function integer(json: Readonly<Record<string, unknown>>, key: string): number | undefined {
  const value = number(json, key);
  if (value !== undefined && !Number.isSafeInteger(value)) throw typeError(key, 'an integer', value);
  return value;
}

function typeError(key: string, expected: string, value: unknown): ProcessorParameterError {
  return new ProcessorParameterError('generation_config', key, `\`${key}\` must be ${expected}; found ${JSON.stringify(value)}`);
}

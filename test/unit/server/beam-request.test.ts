/**
 * Where a beam search comes from: the request's `beam_search` or `generation_config`, or the model folder's
 * `generation_config.json` only where it cannot contradict the request; and how the folder's values are read.
 */
import { describe, expect, it } from 'vitest';
import { DecodeMode, SelectionMode, Start } from '../../../src/gen/stepwise/v1/stepwise.js';
import { ProcessorParameterError } from '../../../src/processors/index.js';
import { beamDefaultsFromJson } from '../../../src/server/beam-defaults.js';
import { resolveBeamSearch } from '../../../src/server/beam-request.js';
import { ModelDefaults } from '../../../src/server/model-defaults.js';
import { DEFAULT_SERVER_LIMITS } from '../../../src/server/server-limits.js';

const folder = (settings: Record<string, unknown>) =>
  new ModelDefaults({ decoderStartTokenId: 0, eosTokenIds: [1], padTokenId: 0, settings });
const FOLDER = folder({ num_beams: 4, length_penalty: 0.8, early_stopping: true, num_return_sequences: 9 });

function resolve(start: Parameters<typeof Start.fromPartial>[0], rpc: 'decode' | 'generate', defaults = FOLDER) {
  const defaultsFromModel: string[] = [];
  const sampling = start.selection?.mode === SelectionMode.SELECTION_MODE_SAMPLE;
  const plan = resolveBeamSearch(Start.fromPartial(start), { rpc, sampling, limits: { ...DEFAULT_SERVER_LIMITS, maxBeams: 8 }, defaults, defaultsFromModel });
  return { plan, defaultsFromModel };
}

describe("the folder's beam settings", () => {
  it('are read with their Hugging Face meanings; num_return_sequences at most num_beams; one beam is none', () => {
    expect(beamDefaultsFromJson({ num_beams: 4, length_penalty: 0.8, early_stopping: 'never', num_return_sequences: 9 })).toEqual({
      numBeams: 4,
      lengthPenalty: 0.8,
      earlyStopping: 'never',
      numReturnSequences: 4,
    });
    expect(beamDefaultsFromJson({ num_beams: 1, length_penalty: 2 })).toBeUndefined();
    expect(() => beamDefaultsFromJson({ num_beams: 4, early_stopping: 'sometimes' })).toThrow(ProcessorParameterError);
    expect(FOLDER.unused).not.toContain('num_beams');
  });

  it('apply to Generate and to Decode asking for AUTO, and say so', () => {
    const generate = resolve({}, 'generate');
    expect(generate.plan).toEqual({ numBeams: 4, lengthPenalty: 0.8, earlyStopping: true, numReturnSequences: 4 });
    expect(generate.defaultsFromModel).toEqual(['beam_search']);
    expect(resolve({ mode: DecodeMode.DECODE_MODE_AUTO }, 'decode').plan?.numBeams).toBe(4);
  });

  it('do not apply where the request decides otherwise: LOCKSTEP, sampling, its own generation_config, stop sequences', () => {
    expect(resolve({}, 'decode').plan).toBeUndefined();
    expect(resolve({ selection: { mode: SelectionMode.SELECTION_MODE_SAMPLE } }, 'generate').plan).toBeUndefined();
    expect(resolve({ generationConfig: { repetitionPenalty: 1.2 } }, 'generate').plan).toBeUndefined();
    expect(resolve({ stopStrings: ['x'] }, 'generate').plan).toBeUndefined();
  });

  it('give way to the request\'s own beam search', () => {
    expect(resolve({ beamSearch: { numBeams: 2 } }, 'generate')).toEqual({
      plan: { numBeams: 2, lengthPenalty: 1, earlyStopping: false, numReturnSequences: 1 },
      defaultsFromModel: [],
    });
    expect(resolve({ beamSearch: { numBeams: 1 } }, 'generate').plan).toBeUndefined();
  });
});

/**
 * The model folder's `generation_config.json` as a stream's defaults, the way Hugging Face's `generate()`
 * takes its defaults from it: for a `Start` that names no pipeline (neither `processors` nor
 * `generation_config`), its processor settings; for one that leaves `selection.mode` unset, its
 * `do_sample`; for one that leaves `max_new_tokens` at 0, its `max_new_tokens` (or `max_length` less the
 * decoder prompt), within the server's limit.
 */
import { hfSettingsFromJson, type HfGenerationSettings } from '../processors/index.js';
import type { GenerationDefaults } from '../runtime/types.js';
import { BEAM_KEYS, beamDefaultsFromJson } from './beam-defaults.js';
import type { BeamPlan } from './beam-request.js';

export class ModelDefaults {
  /** Processor settings (`do_sample` included) of the file. */
  readonly settings: HfGenerationSettings;
  /** Keys of the file that build nothing here (`num_beam_groups`, say): reported once, at start-up. */
  readonly unused: readonly string[];
  /** The file's beam search (`num_beams` > 1), where a stream's `Start` leaves it to the file. */
  readonly beams: BeamPlan | undefined;

  /** Throws `ProcessorParameterError` for a setting of the wrong type. */
  constructor(private readonly generation: GenerationDefaults) {
    const { settings, unused } = hfSettingsFromJson(generation.settings);
    this.settings = settings;
    this.unused = unused.filter((key) => !BEAM_KEYS.has(key));
    this.beams = beamDefaultsFromJson(generation.settings);
  }

  /** Whether the file asks for sampling. */
  get doSample(): boolean {
    return this.settings.doSample === true;
  }

  /**
   * The file's limit on new tokens for a decoder prompt of `promptLength` tokens (the start token
   * included): `max_new_tokens`, else `max_length` less the prompt (Hugging Face counts the decoder prompt
   * of an encoder-decoder model in `max_length`); undefined when it sets neither.
   */
  maxNewTokens(promptLength: number): number | undefined {
    const { maxNewTokens, maxLength } = this.generation;
    if (maxNewTokens !== undefined) return maxNewTokens;
    return maxLength === undefined ? undefined : maxLength - promptLength;
  }
}

/**
 * Resolves a `Start`'s beam search: from `Start.beam_search`, from `generation_config` (`num_beams`,
 * `length_penalty`, `early_stopping`, `num_return_sequences`, Hugging Face's names), or from the model
 * folder's `generation_config.json` — never two of them. Each refusal names the field, the rule and the
 * value given. A beam search needs AUTO mode (a `Decode` that leaves `mode` unset gets AUTO), greedy
 * selection (beam sampling is not supported), no stop strings or stop token sequences, and no per-step
 * stream options (it streams `BeamStep`s instead; FLOAT32, the default format, and NONE ask for nothing).
 *
 * The folder's settings apply as Hugging Face's `generate()` takes them, only where they cannot contradict
 * the request: when the `Start` names no beam search and no `generation_config`, decodes in AUTO mode
 * (`Generate`, or `Decode` asking for AUTO) with greedy selection, and asks for no stop sequences and no
 * stream options. `Started.defaults_from_model` then lists "beam_search".
 */
import { DecodeMode, EarlyStopping, LogitsFormat, type Start } from '../gen/stepwise/v1/stepwise.js';
import type { EarlyStopping as EarlyStoppingRule } from '../processors/index.js';
import type { ModelDefaults } from './model-defaults.js';
import { requireInClosedRange } from './request-checks.js';
import type { ServerLimits } from './server-limits.js';
import type { StartingRpc } from './start-request.js';
import { invalidArgument } from './status.js';

/** A resolved beam search (`num_beams` > 1). */
export interface BeamPlan {
  readonly numBeams: number;
  readonly lengthPenalty: number;
  readonly earlyStopping: EarlyStoppingRule;
  readonly numReturnSequences: number;
}

/** Beam settings as a request or a folder gives them, before checks; `prefix` names their fields. */
interface BeamFields {
  readonly prefix: string;
  readonly numBeams?: number | undefined;
  readonly lengthPenalty?: number | undefined;
  readonly earlyStopping: EarlyStopping;
  readonly numReturnSequences?: number | undefined;
}

export interface BeamContext {
  readonly rpc: StartingRpc;
  readonly sampling: boolean;
  readonly limits: ServerLimits;
  readonly defaults: ModelDefaults;
  /** `Started.defaults_from_model`, to which "beam_search" is added when the folder's settings apply. */
  readonly defaultsFromModel: string[];
}

/** The `Start`'s beam search, or undefined for one sequence. */
export function resolveBeamSearch(start: Start, context: BeamContext): BeamPlan | undefined {
  const requested = requestedFields(start);
  if (requested === undefined) return folderBeamSearch(start, context);
  const plan = checkedPlan(requested, context.limits.maxBeams);
  if (plan === undefined) return undefined;
  refuseContradictions(start, requested.prefix, context);
  return plan;
}

function requestedFields(start: Start): BeamFields | undefined {
  const wire = start.beamSearch;
  const config = start.generationConfig;
  const inConfig =
    config !== undefined &&
    (config.numBeams !== undefined || config.lengthPenalty !== undefined || config.numReturnSequences !== undefined ||
      config.earlyStopping !== EarlyStopping.EARLY_STOPPING_UNSPECIFIED);
  if (wire !== undefined && inConfig) {
    throw invalidArgument('`beam_search` and the beam settings of `generation_config` must not both be given; give one of them');
  }
  if (wire !== undefined) return { prefix: 'beam_search.', ...wire };
  if (inConfig) return { prefix: 'generation_config.', ...config };
  return undefined;
}

/** Checks the fields; undefined when they ask for one beam (which must then set nothing else). */
function checkedPlan(fields: BeamFields, maxBeams: number): BeamPlan | undefined {
  const { prefix } = fields;
  const numBeams = fields.numBeams ?? 1;
  requireInClosedRange(`${prefix}num_beams`, numBeams, 0, maxBeams, ' (the server\'s `max_beams`; 0 or 1: no beam search)');
  if (numBeams <= 1) {
    refuseBeamOnly(fields, numBeams);
    return undefined;
  }
  const numReturnSequences = fields.numReturnSequences === undefined || fields.numReturnSequences === 0 ? 1 : fields.numReturnSequences;
  requireInClosedRange(`${prefix}num_return_sequences`, numReturnSequences, 1, numBeams, ' (at most `num_beams`; 0 means 1)');
  const lengthPenalty = fields.lengthPenalty ?? 1;
  if (!Number.isFinite(lengthPenalty)) throw invalidArgument(`\`${prefix}length_penalty\` must be a finite number; given ${lengthPenalty}`);
  return { numBeams, lengthPenalty, earlyStopping: earlyStoppingRule(fields.earlyStopping, `${prefix}early_stopping`), numReturnSequences };
}

/** Hugging Face warns that these do nothing without beams; a request that sets them expected an effect. */
function refuseBeamOnly(fields: BeamFields, numBeams: number): void {
  const { prefix } = fields;
  const set =
    fields.lengthPenalty !== undefined
      ? `length_penalty ${fields.lengthPenalty}`
      : fields.earlyStopping !== EarlyStopping.EARLY_STOPPING_UNSPECIFIED
        ? `early_stopping ${EarlyStopping[fields.earlyStopping] ?? fields.earlyStopping}`
        : (fields.numReturnSequences ?? 0) > 1
          ? `num_return_sequences ${fields.numReturnSequences}`
          : undefined;
  if (set === undefined) return;
  const field = set.split(' ')[0]!;
  throw invalidArgument(`\`${prefix}${field}\` applies only to beam search (\`${prefix}num_beams\` > 1); given ${set} with num_beams ${numBeams}`);
}

function earlyStoppingRule(value: EarlyStopping, field: string): EarlyStoppingRule {
  switch (value) {
    case EarlyStopping.EARLY_STOPPING_UNSPECIFIED:
    case EarlyStopping.EARLY_STOPPING_FALSE:
      return false;
    case EarlyStopping.EARLY_STOPPING_TRUE:
      return true;
    case EarlyStopping.EARLY_STOPPING_NEVER:
      return 'never';
    default:
      throw invalidArgument(`\`${field}\` must be one of TRUE, FALSE, NEVER; given ${value}`);
  }
}

/** What a beam search cannot be combined with, named by the field that asks for it. */
function refuseContradictions(start: Start, prefix: string, context: BeamContext): void {
  const beams = `\`${prefix}num_beams\` > 1`;
  if (start.mode === DecodeMode.DECODE_MODE_LOCKSTEP) {
    throw invalidArgument(`\`mode\` must be AUTO (or unset) with ${beams}: a beam search takes no step decisions; given LOCKSTEP`);
  }
  if (context.sampling) {
    const field = start.generationConfig?.doSample === true ? '`generation_config.do_sample` must be false' : '`selection.mode` must be GREEDY';
    throw invalidArgument(`${field} with ${beams} (beam sampling is not supported); given sampling`);
  }
  const stopCount = start.stopStrings.length + start.stopTokenSequences.length;
  if (stopCount > 0) {
    const field = start.stopStrings.length > 0 ? 'stop_strings' : 'stop_token_sequences';
    throw invalidArgument(`\`${field}\` must be empty with ${beams} (beams end at EOS or max_new_tokens); given ${stopCount} stop sequences`);
  }
  const option = streamOptionSet(start);
  if (option !== undefined) {
    throw invalidArgument(`\`stream.${option}\` must be unset with ${beams}: a beam search streams \`BeamStep\`s, not per-token rows`);
  }
}

/** The first per-step stream option the `Start` sets, if any. */
function streamOptionSet(start: Start): string | undefined {
  const stream = start.stream;
  if (stream === undefined) return undefined;
  // FLOAT32 is the default format (clients often send it explicitly); asking for another one asks for rows.
  const format = stream.rawLogits;
  if (format === LogitsFormat.LOGITS_FORMAT_FLOAT16 || format === LogitsFormat.LOGITS_FORMAT_TOP_K) return 'raw_logits';
  if (stream.rawTopK !== 0) return 'raw_top_k';
  if (stream.processedScores) return 'processed_scores';
  if (stream.topNAlternatives !== 0) return 'top_n_alternatives';
  if (stream.entropy) return 'entropy';
  return undefined;
}

/** The folder's beam search, where it applies (see the header). */
function folderBeamSearch(start: Start, context: BeamContext): BeamPlan | undefined {
  const folder = context.defaults.beams;
  if (folder === undefined || start.generationConfig !== undefined || context.sampling) return undefined;
  const auto = start.mode === DecodeMode.DECODE_MODE_AUTO || (context.rpc === 'generate' && start.mode === DecodeMode.DECODE_MODE_UNSPECIFIED);
  if (!auto || start.stopStrings.length + start.stopTokenSequences.length > 0 || streamOptionSet(start) !== undefined) return undefined;
  const plan = { ...folder, numBeams: Math.min(folder.numBeams, context.limits.maxBeams) };
  context.defaultsFromModel.push('beam_search');
  return { ...plan, numReturnSequences: Math.min(plan.numReturnSequences, plan.numBeams) };
}

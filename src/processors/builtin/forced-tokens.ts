/**
 * Processors that force one token: `forced_bos_token_id`, `forced_eos_token_id` (Hugging Face
 * `ForcedBOSTokenLogitsProcessor`, `ForcedEOSTokenLogitsProcessor`) and `force_token_at` (a schedule of
 * step → token, in the spirit of Hugging Face's `forced_decoder_ids`). A forced row is all -inf except the
 * forced token at 0; earlier processors' work on that row is discarded, later processors still run.
 */
import { defineProcessor } from '../define-processor.js';
import { PROCESSOR_LIMITS } from '../limits.js';
import type { LogitsProcessor, StepContext } from '../types.js';
import { forceToken } from './token-id-set.js';

/** Forces `tokenId` when the history is only the start token (the first generated token of an unprompted decoder). */
export class ForcedBosProcessor implements LogitsProcessor {
  readonly name = 'forced_bos_token_id';

  constructor(private readonly tokenId: number) {}

  apply(row: Float32Array, { history }: StepContext): void {
    if (history.length === 1) forceToken(row, this.tokenId);
  }

  isArgmaxInvariant(): boolean {
    return false;
  }
}

/** Forces `tokenId` at the last position `max_length` allows (history length max_length − 1). */
export class ForcedEosProcessor implements LogitsProcessor {
  readonly name = 'forced_eos_token_id';

  constructor(
    private readonly tokenId: number,
    private readonly maxLength: number,
  ) {}

  apply(row: Float32Array, { history }: StepContext): void {
    if (history.length === this.maxLength - 1) forceToken(row, this.tokenId);
  }

  isArgmaxInvariant(): boolean {
    return false;
  }
}

/** Forces the scheduled token at each scheduled step (step 0 = first generated token). */
export class ForceTokenAtProcessor implements LogitsProcessor {
  readonly name = 'force_token_at';

  constructor(private readonly schedule: ReadonlyMap<number, number>) {}

  apply(row: Float32Array, { step }: StepContext): void {
    const tokenId = this.schedule.get(step);
    if (tokenId !== undefined) forceToken(row, tokenId);
  }

  isArgmaxInvariant(): boolean {
    return false;
  }
}

export const forcedBosTokenId = defineProcessor({
  name: 'forced_bos_token_id',
  description:
    'Forces this token as the first generated token when the decoder prompt is only the start token ' +
    '(Hugging Face ForcedBOSTokenLogitsProcessor).',
  parameters: {
    forced_bos_token_id: { type: 'int', description: 'The token to force.', required: true, tokenIds: true },
  },
  create: (params) => new ForcedBosProcessor(params.forced_bos_token_id),
});

export const forcedEosTokenId = defineProcessor({
  name: 'forced_eos_token_id',
  description:
    'Forces this token at the last step the stream\'s max_new_tokens allows (Hugging Face ForcedEOSTokenLogitsProcessor).',
  parameters: {
    forced_eos_token_id: { type: 'int', description: 'The token to force.', required: true, tokenIds: true },
  },
  create: (params, context) => new ForcedEosProcessor(params.forced_eos_token_id, context.maxLength),
});

export const forceTokenAt = defineProcessor({
  name: 'force_token_at',
  description:
    'Forces given tokens at given steps (step 0 = first generated token): either `step` with `token_id`, or a ' +
    '`schedule` of [step, token_id] pairs.',
  parameters: {
    step: { type: 'int', description: 'The step at which `token_id` is forced.', min: { value: 0, inclusive: true } },
    token_id: { type: 'int', description: 'The token forced at `step`.', tokenIds: true },
    schedule: { type: 'int_map', description: 'Pairs [step, token_id].', nonEmpty: true, maxItems: PROCESSOR_LIMITS.forcedSteps },
  },
  check(params, context, reject) {
    const single = params.step !== undefined || params.token_id !== undefined;
    if (single && params.schedule !== undefined) {
      reject('schedule', 'give either `step` with `token_id`, or `schedule`, not both');
    }
    if (!single && params.schedule === undefined) reject('step', 'give `step` with `token_id`, or `schedule`');
    if (single && params.step === undefined) reject('step', '`step` is required with `token_id`');
    if (single && params.token_id === undefined) reject('token_id', '`token_id` is required with `step`');
    const steps = new Set<number>();
    params.schedule?.forEach(({ key: step, value: tokenId }, index) => {
      if (step < 0) reject('schedule', `\`schedule[${index}][0]\` must be >= 0; given ${step}`);
      if (!Number.isInteger(tokenId) || tokenId < 0 || tokenId >= context.vocabSize) {
        reject('schedule', `\`schedule[${index}][1]\` must be a token id in [0, ${context.vocabSize}); given ${tokenId}`);
      }
      if (steps.has(step)) reject('schedule', `\`schedule[${index}]\` schedules step ${step} a second time`);
      steps.add(step);
    });
  },
  create: (params) => {
    const schedule = new Map<number, number>();
    if (params.step !== undefined && params.token_id !== undefined) schedule.set(params.step, params.token_id);
    for (const { key, value } of params.schedule ?? []) schedule.set(key, value);
    return new ForceTokenAtProcessor(schedule);
  },
});

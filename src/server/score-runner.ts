/**
 * Runs the plans of one `Score` or `ScoreBatch` call: one encoder run for their inputs, one request for
 * all their targets' rows (the scheduler turns it, and the concurrent calls' requests, into shared scoring
 * runs of the decoder without cache), then each target's statistics, in the plans' order.
 *
 * ```ts
 * const responses = await runner.run(model, [resolveScoreCall(request, model, limits)], signal, performance.now());
 * ```
 */
import { performance } from 'node:perf_hooks';
import { inject, injectable } from 'tsyringe';
import type { ScoreResponse } from '../gen/stepwise/v1/stepwise.js';
import type { EncodedInput, ModelRuntime, ScoreTarget } from '../runtime/types.js';
import { EventLoopTurns } from './event-loop-turns.js';
import type { ScorePlan } from './score-request.js';
import { targetScore } from './target-scores.js';

@injectable()
export class ScoreRunner {
  constructor(@inject(EventLoopTurns) private readonly turns: EventLoopTurns) {}

  /** The responses of `plans` on `model`, in order; `startedAt` is when the call arrived (`performance.now()`). */
  async run(model: ModelRuntime, plans: readonly ScorePlan[], signal: AbortSignal, startedAt: number): Promise<ScoreResponse[]> {
    const encoded = await model.encode(plans.map((plan) => plan.inputIds));
    signal.throwIfAborted();
    const asked = performance.now();
    const rows = await model.score(plans.flatMap((plan, index) => targetsOf(plan, encoded[index]!)));
    const decodeMs = performance.now() - asked;
    signal.throwIfAborted();
    const responses: ScoreResponse[] = [];
    let next = 0;
    for (const [index, plan] of plans.entries()) {
      const results = [];
      for (const tokens of plan.targets) results.push(await this.targetScore(model, plan, tokens, rows[next++]!, signal));
      const encodeMs = encoded[index]!.encodeMs;
      responses.push({
        results,
        inputIds: [...plan.inputIds],
        decoderPromptIds: [model.info.specialIds.decoderStart, ...plan.prefix],
        timings: { encodeMs, decodeMs, totalMs: performance.now() - startedAt },
      });
    }
    return responses;
  }

  private targetScore(model: ModelRuntime, plan: ScorePlan, tokens: readonly number[], rows: Float32Array, signal: AbortSignal) {
    const { tokenizer, info } = model;
    return targetScore(tokens, rows, { tokenizer, vocabSize: info.vocabSize, report: plan.report, yieldTurn: () => this.turns.next(), signal });
  }
}

function targetsOf(plan: ScorePlan, encoded: EncodedInput): ScoreTarget[] {
  return plan.targets.map((tokens) => ({ encoded, prefix: plan.prefix, tokens }));
}

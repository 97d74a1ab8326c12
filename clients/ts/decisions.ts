/**
 * What a client answers at a step, as plain data, and its encoding as a `StepDecision` (or `Stop`).
 *
 * ```ts
 * accept()                                     // let the server select
 * force(42) / force([42, 7, 1])                // take a token, or a run of tokens (teacher forcing)
 * rewind(2)                                    // drop the last two tokens; the step is streamed again
 * reconfigure([replaceProcessor({ name: 'temperature', params: { temperature: 0.5 } })])
 * stop()                                       // end now (reason CLIENT_STOP)
 * fork(1) / drop()                             // copy the branch into branch 1; end the branch
 * ```
 */
import { toProcessorSpec, type ProcessorInput } from './param-values.js';
import { PipelineScope, type DecodeRequest, type PipelineChange, type StepDecision } from './proto.js';

/** How long a pipeline change lasts. */
export type ChangeScope = 'this-step' | 'from-now-on';

/** One change to the processor pipeline. */
export type PipelineChangeInput =
  | { readonly change: 'add'; readonly processor: ProcessorInput; readonly index?: number; readonly scope?: ChangeScope }
  | { readonly change: 'replace'; readonly processor: ProcessorInput; readonly scope?: ChangeScope }
  | { readonly change: 'remove'; readonly name: string; readonly scope?: ChangeScope };

/** A client's answer to one step. */
export type Decision =
  | { readonly action: 'accept'; readonly pipelineChanges: readonly PipelineChangeInput[] }
  | { readonly action: 'force'; readonly tokenIds: readonly number[]; readonly pipelineChanges: readonly PipelineChangeInput[] }
  | { readonly action: 'rewind'; readonly count: number; readonly pipelineChanges: readonly PipelineChangeInput[] }
  | { readonly action: 'stop' }
  | { readonly action: 'fork'; readonly newBranch: number }
  | { readonly action: 'drop' };

/** Let the server select this step's token (after applying `pipelineChanges`, if any). */
export function accept(pipelineChanges: readonly PipelineChangeInput[] = []): Decision {
  return { action: 'accept', pipelineChanges };
}

/** Take `tokenIds` (one id, or a run: one per step from this one) instead of selecting. */
export function force(tokenIds: number | readonly number[], pipelineChanges: readonly PipelineChangeInput[] = []): Decision {
  const ids = typeof tokenIds === 'number' ? [tokenIds] : tokenIds;
  if (ids.length === 0) throw new RangeError('force needs at least one token id; given none');
  for (const [index, id] of ids.entries()) {
    if (!Number.isInteger(id) || id < 0) {
      throw new RangeError(`forced token id [${index}] must be a non-negative integer; given ${id}`);
    }
  }
  return { action: 'force', tokenIds: ids, pipelineChanges };
}

/** Change the pipeline and let the server select with it. */
export function reconfigure(pipelineChanges: readonly PipelineChangeInput[]): Decision {
  if (pipelineChanges.length === 0) throw new RangeError('reconfigure needs at least one pipeline change; given none');
  return accept(pipelineChanges);
}

/** Remove the last `count` generated tokens; the server streams the step at the rewound position again. */
export function rewind(count: number, pipelineChanges: readonly PipelineChangeInput[] = []): Decision {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`rewind count must be an integer >= 1; given ${count}`);
  return { action: 'rewind', count, pipelineChanges };
}

/** End decoding now; the stream finishes with reason CLIENT_STOP. */
export function stop(): Decision {
  return { action: 'stop' };
}

/**
 * Copy the branch, as it awaits this step, into `newBranch` (an unused id in [1, 2^31), chosen by the client);
 * both then await a decision for this step.
 */
export function fork(newBranch: number): Decision {
  if (!Number.isInteger(newBranch) || newBranch < 1 || newBranch >= 2 ** 31) {
    throw new RangeError(`fork branch must be an integer in [1, 2^31); given ${newBranch}`);
  }
  return { action: 'fork', newBranch };
}

/** End the branch without a `finished` event and free its memory (not the stream's last live branch). */
export function drop(): Decision {
  return { action: 'drop' };
}

/** Inserts a processor (last, or at `index`). */
export function addProcessor(processor: ProcessorInput, options: { index?: number; scope?: ChangeScope } = {}): PipelineChangeInput {
  return { change: 'add', processor, ...options };
}

/** Replaces the processor of the same name with new parameters. */
export function replaceProcessor(processor: ProcessorInput, options: { scope?: ChangeScope } = {}): PipelineChangeInput {
  return { change: 'replace', processor, ...options };
}

/** Removes the processor of this name. */
export function removeProcessor(name: string, options: { scope?: ChangeScope } = {}): PipelineChangeInput {
  return { change: 'remove', name, ...options };
}

function toScope(scope: ChangeScope | undefined): PipelineScope {
  if (scope === undefined) return PipelineScope.PIPELINE_SCOPE_UNSPECIFIED;
  return scope === 'this-step' ? PipelineScope.PIPELINE_SCOPE_THIS_STEP : PipelineScope.PIPELINE_SCOPE_FROM_NOW_ON;
}

function toPipelineChange(input: PipelineChangeInput): PipelineChange {
  const scope = toScope(input.scope);
  switch (input.change) {
    case 'add':
      return { change: { $case: 'add', value: { processor: toProcessorSpec(input.processor), index: input.index } }, scope };
    case 'replace':
      return { change: { $case: 'replace', value: toProcessorSpec(input.processor) }, scope };
    case 'remove':
      return { change: { $case: 'remove', value: input.name }, scope };
  }
}

/** The request that carries `decision` as the answer to `branch`'s `step`. */
export function toDecodeRequest(step: number, decision: Decision, branch = 0): DecodeRequest {
  if (decision.action === 'stop') return { message: { $case: 'stop', value: { branch } } };
  const decide = (action: StepDecision['action'], pipelineChanges: PipelineChange[] = []): DecodeRequest => ({
    message: { $case: 'decision', value: { step, action, pipelineChanges, branch } },
  });
  if (decision.action === 'fork') return decide({ $case: 'fork', value: { branch: decision.newBranch } });
  if (decision.action === 'drop') return decide({ $case: 'drop', value: {} });
  const pipelineChanges = decision.pipelineChanges.map(toPipelineChange);
  switch (decision.action) {
    case 'accept':
      return decide({ $case: 'accept', value: {} }, pipelineChanges);
    case 'force':
      return decide(
        decision.tokenIds.length === 1
          ? { $case: 'forceToken', value: { tokenId: decision.tokenIds[0]! } }
          : { $case: 'forceTokens', value: { tokenIds: [...decision.tokenIds] } },
        pipelineChanges,
      );
    case 'rewind':
      return decide({ $case: 'rewind', value: { count: decision.count } }, pipelineChanges);
  }
}

/** How many of the steps after the answered one the server streams without waiting (a forced run's tail). */
export function stepsDecidedAhead(decision: Decision): number {
  return decision.action === 'force' ? decision.tokenIds.length - 1 : 0;
}

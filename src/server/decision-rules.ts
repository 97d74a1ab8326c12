/**
 * The rules of a `StepDecision`: which actions are possible at the step awaiting a token, given the tokens
 * generated and queued so far, and which pipeline changes go with them. A decision is checked whole before
 * anything of it is applied, so a refused decision changes nothing.
 */
import type { StepDecision } from '../gen/stepwise/v1/stepwise.js';
import { PROCESSOR_LIMITS, type PipelineChange } from '../processors/index.js';
import { requireTokenId, requireTokenIds } from './request-checks.js';
import { pipelineChangesFromWire } from './session-wire.js';
import { invalidArgument, outOfRange } from './status.js';
import type { TokenLedger } from './token-ledger.js';

/**
 * What a valid decision asks for: tokens to force from this step on (none: select), a rewind, a copy of
 * the branch into branch `branch` (its id is checked where the branches are kept), or the branch's end.
 */
export type DecisionAction =
  | { readonly kind: 'take'; readonly forced: readonly number[]; readonly pipelineChanged: boolean }
  | { readonly kind: 'rewind'; readonly count: number }
  | { readonly kind: 'fork'; readonly branch: number }
  | { readonly kind: 'drop' };

/** Where a decision is applied. */
export interface DecisionContext {
  readonly ledger: Pick<TokenLedger, 'step' | 'left' | 'maxNewTokens'>;
  readonly vocabSize: number;
  /** Applies pipeline changes (all or none); `field` names the list in errors. */
  changePipeline(changes: readonly PipelineChange[], field: string): void;
}

const CHANGES_FIELD = 'decision.pipeline_changes';

/** Checks `decision` at the current step, applies its pipeline changes, and returns what to do with the step. */
export function applyDecision(decision: StepDecision, context: DecisionContext): DecisionAction {
  // Before the changes are converted: a huge list is refused for the price of reading its length.
  const most = PROCESSOR_LIMITS.pipelineChanges;
  if (decision.pipelineChanges.length > most) {
    throw invalidArgument(`\`${CHANGES_FIELD}\` must hold at most ${most} changes; given ${decision.pipelineChanges.length}`);
  }
  const changes = pipelineChangesFromWire(decision.pipelineChanges, CHANGES_FIELD);
  const action = checkAction(decision, changes, context);
  context.changePipeline(changes, CHANGES_FIELD);
  return action;
}

function checkAction(decision: StepDecision, changes: readonly PipelineChange[], context: DecisionContext): DecisionAction {
  const { ledger, vocabSize } = context;
  const pipelineChanged = changes.length > 0;
  const action = decision.action;
  switch (action?.$case) {
    case 'accept':
      return { kind: 'take', forced: [], pipelineChanged };
    case 'forceToken':
      requireTokenId('decision.force_token.token_id', action.value.tokenId, vocabSize);
      if (ledger.left < 1) {
        throw invalidArgument(
          `\`decision.force_token\` cannot be taken: the forced tokens already queued reach \`max_new_tokens\` (${ledger.maxNewTokens})`,
        );
      }
      return { kind: 'take', forced: [action.value.tokenId], pipelineChanged };
    case 'forceTokens':
      return { kind: 'take', forced: checkForcedRun(action.value.tokenIds, context), pipelineChanged };
    case 'rewind':
      return { kind: 'rewind', count: checkRewind(action.value.count, changes, ledger.step) };
    case 'fork':
    case 'drop':
      if (changes.length > 0) {
        throw invalidArgument(
          `\`${CHANGES_FIELD}\` cannot come with \`decision.${action.$case}\` (send them with a decision that takes a step); given ${changes.length} changes`,
        );
      }
      return action.$case === 'fork' ? { kind: 'fork', branch: action.value.branch } : { kind: 'drop' };
    case undefined:
      throw invalidArgument('`decision.action` must be set (accept, force_token, force_tokens, rewind, fork or drop); given none');
  }
}

/** A forced run fits in the tokens left before `max_new_tokens`, each id in the vocabulary. */
function checkForcedRun(ids: readonly number[], { ledger, vocabSize }: DecisionContext): readonly number[] {
  if (ids.length === 0 || ids.length > ledger.left) {
    throw invalidArgument(
      `\`decision.force_tokens.token_ids\` must hold [1, ${ledger.left}] ids (the tokens left before \`max_new_tokens\`); given ${ids.length}`,
    );
  }
  requireTokenIds('decision.force_tokens.token_ids', ids, vocabSize);
  return ids;
}

/** A rewind takes back between one and every generated token, and no change can be scoped to this step. */
function checkRewind(count: number, changes: readonly PipelineChange[], step: number): number {
  if (step === 0) {
    throw outOfRange(`\`decision.rewind\` is not possible at step 0: no token was generated yet; given count ${count}`);
  }
  if (count < 1 || count > step) {
    throw outOfRange(`\`decision.rewind.count\` must be in [1, ${step}] (the tokens generated so far); given ${count}`);
  }
  const scoped = changes.findIndex((change) => change.scope === 'this-step');
  if (scoped !== -1) {
    throw invalidArgument(
      `\`${CHANGES_FIELD}[${scoped}].scope\` cannot be THIS_STEP with a rewind (no token is chosen at this step); given THIS_STEP`,
    );
  }
  return count;
}

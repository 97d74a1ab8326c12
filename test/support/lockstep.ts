/**
 * Drives a LOCKSTEP `Decode` stream from a test: for each step, read its logits, answer with the decision a
 * callback returns, collect what the server sends, until `Finished` (or an error status).
 */
import { status as Status } from '@grpc/grpc-js';
import type { Finished, Started, StepLogits, TokenChosen } from '../../src/gen/stepwise/v1/stepwise.js';
import { DecodeStream, type CallStatus, type DecisionInput } from './decode-client.js';
import { tensorValues } from './runtime-reference.js';

export const ACCEPT = { $case: 'accept', value: {} } as const;

export interface LockstepTranscript {
  readonly started: Started;
  /** Logits messages in arrival order (a step computed again after a rewind appears again). */
  readonly logits: StepLogits[];
  readonly tokens: TokenChosen[];
  readonly finished: Finished | undefined;
  readonly status: CallStatus;
}

/**
 * Answers every step that awaits a decision with `decide(logits)`; `undefined` sends `stop`. Steps of a
 * forced run are read without answering.
 */
export async function runLockstep(
  stream: DecodeStream,
  decide: (logits: StepLogits, transcript: LockstepTranscript) => DecisionInput | undefined,
): Promise<LockstepTranscript> {
  const started = await stream.expect('started');
  const logits: StepLogits[] = [];
  const tokens: TokenChosen[] = [];
  let finished: Finished | undefined;
  const soFar = (): LockstepTranscript => ({ started, logits, tokens, finished, status: { code: Status.UNKNOWN, details: 'running' } });
  let pendingForced = 0;
  for (let response = await stream.next(); response !== undefined; response = await stream.next()) {
    const message = response.message;
    if (message?.$case === 'logits') {
      logits.push(message.value);
      // The steps of a forced run after its first one need no decision.
      if (pendingForced > 0) {
        pendingForced -= 1;
        continue;
      }
      const decision = decide(message.value, soFar());
      if (decision === undefined) {
        stream.stop();
      } else {
        const action = decision.action;
        pendingForced = action?.$case === 'forceTokens' ? (action.value?.tokenIds?.length ?? 1) - 1 : 0;
        stream.decide(decision);
      }
    } else if (message?.$case === 'token') {
      tokens.push(message.value);
    } else if (message?.$case === 'finished') {
      finished = message.value;
    }
  }
  stream.call.end();
  return { started, logits, tokens, finished, status: await stream.status };
}

/** The float32 raw logits of each logits message. */
export function rawRows(logits: readonly StepLogits[]): Float32Array[] {
  return logits.map((message) => tensorValues(message.raw));
}

/**
 * Streams a test holds open on purpose, to see what the server does with live streams (drain, queue,
 * timeouts): a LOCKSTEP stream waiting for its first decision, an AUTO stream whose client stopped
 * reading, and the way to run either to its end.
 */
import type { StepwiseServiceClient } from '../../src/gen/stepwise/v1/stepwise.js';
import { DecodeMode } from '../../src/gen/stepwise/v1/stepwise.js';
import { DecodeStream, type CallStatus } from './decode-client.js';
import { ACCEPT } from './lockstep.js';

export const HELD_TEXT = { $case: 'text', value: 'the small green house' } as const;

/** A LOCKSTEP stream of exactly `tokens` tokens that has received `started` and step 0's logits. */
export async function lockstepAwaitingStep0(client: StepwiseServiceClient, tokens = 6): Promise<DecodeStream> {
  const stream = DecodeStream.open(client);
  stream.start({ input: HELD_TEXT, maxNewTokens: tokens, minNewTokens: tokens });
  await stream.expect('started');
  await stream.expect('logits');
  return stream;
}

/**
 * A 500-token AUTO stream whose client stops reading once it started: the server's writes back up, so it
 * stays open until `stream.call.resume()`.
 */
export async function stalledAuto(client: StepwiseServiceClient): Promise<DecodeStream> {
  const stream = DecodeStream.open(client);
  stream.start({ input: HELD_TEXT, mode: DecodeMode.DECODE_MODE_AUTO, maxNewTokens: 500, minNewTokens: 500 });
  await stream.expect('started');
  stream.call.pause();
  return stream;
}

/** Accepts every remaining step of a LOCKSTEP stream awaiting step 0; whether it finished, and its status. */
export async function acceptToEnd(stream: DecodeStream): Promise<{ finished: boolean; status: CallStatus }> {
  stream.decide({ step: 0, action: ACCEPT });
  let finished = false;
  for (let response = await stream.next(); response !== undefined; response = await stream.next()) {
    const message = response.message;
    if (message?.$case === 'logits') stream.decide({ step: message.value.step, action: ACCEPT });
    if (message?.$case === 'finished') finished = true;
  }
  stream.call.end();
  return { finished, status: await stream.status };
}

/** Polls `condition` every 10 ms until it holds, or fails naming `what` after `timeoutMs`. */
export async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`${what}: still not so after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

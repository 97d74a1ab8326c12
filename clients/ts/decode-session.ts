/**
 * One open `Decode` stream: read its events with `for await`, answer its steps with the decision methods.
 *
 * ```ts
 * const session = client.openDecode({ text: 'translate English to German: Hello', maxNewTokens: 20 });
 * for await (const event of session) {
 *   if (event.kind === 'step' && event.awaitsDecision) {
 *     const row = event.logits!;                      // Float32Array view, vocab_size long
 *     if (event.step === 0) session.force(event.step, 363); else session.accept(event.step);
 *   }
 *   if (event.kind === 'token') console.log(event.token.text);
 * }
 * console.log(session.finished?.text);
 * ```
 */
import type { ClientDuplexStream } from '@grpc/grpc-js';
import { type StepwiseCallOptions } from './call-options.js';
import { accept, force, reconfigure, rewind, stepsDecidedAhead, stop, toDecodeRequest } from './decisions.js';
import type { Decision, PipelineChangeInput } from './decisions.js';
import { toDecodeEvent, type DecodeEvent } from './decode-events.js';
import { readEventStream } from './event-stream.js';
import { DecodeMode, type DecodeRequest, type DecodeResponse, type Finished, type Started } from './proto.js';

export class DecodeSession implements AsyncIterable<DecodeEvent> {
  private startedMessage: Started | undefined;
  private finishedMessage: Finished | undefined;
  /** Steps of a forced run that the server streams without waiting for a decision. */
  private stepsAlreadyDecided = 0;
  private stopped = false;
  private iterated = false;

  constructor(
    private readonly call: ClientDuplexStream<DecodeRequest, DecodeResponse>,
    private readonly options: StepwiseCallOptions,
    private readonly stopListening: () => void,
  ) {}

  /** What the server resolved from the start, once the `started` event was read. */
  get started(): Started | undefined {
    return this.startedMessage;
  }

  /** The stream's end (reason, ids, text, timings), once the `finished` event was read. */
  get finished(): Finished | undefined {
    return this.finishedMessage;
  }

  /** The stream's events, in order, ending with `finished`; can be iterated once. */
  [Symbol.asyncIterator](): AsyncIterator<DecodeEvent> {
    if (this.iterated) throw new Error('a decode session can be iterated only once');
    this.iterated = true;
    return readEventStream<DecodeResponse>('Decode', this.call, this.options.signal, this.stopListening, (response) =>
      this.observe(response),
    );
  }

  /** Sends `decision` as the answer to `step` (`stop()` ends the decode). */
  decide(step: number, decision: Decision): void {
    if (decision.action === 'stop') return this.stop();
    this.assertOpen(`answer step ${step}`);
    this.call.write(toDecodeRequest(step, decision));
    this.stepsAlreadyDecided = stepsDecidedAhead(decision);
  }

  /** Lets the server select the token of `step`, after applying `pipelineChanges`. */
  accept(step: number, pipelineChanges: readonly PipelineChangeInput[] = []): void {
    this.decide(step, accept(pipelineChanges));
  }

  /** Takes `tokenIds` (one id, or a run from `step` on) instead of selecting. */
  force(step: number, tokenIds: number | readonly number[], pipelineChanges: readonly PipelineChangeInput[] = []): void {
    this.decide(step, force(tokenIds, pipelineChanges));
  }

  /** Changes the pipeline, then lets the server select `step`'s token with it. */
  reconfigure(step: number, pipelineChanges: readonly PipelineChangeInput[]): void {
    this.decide(step, reconfigure(pipelineChanges));
  }

  /** Removes the last `count` tokens; the step at the rewound position is streamed again. */
  rewind(step: number, count: number, pipelineChanges: readonly PipelineChangeInput[] = []): void {
    this.decide(step, rewind(count, pipelineChanges));
  }

  /** Ends the decode; the stream then finishes with reason CLIENT_STOP. */
  stop(): void {
    this.assertOpen('stop');
    this.call.write(toDecodeRequest(0, stop())); // a stop answers no particular step
    this.stopped = true;
  }

  /** Abandons the stream at once (the server frees it); iteration then fails with CANCELLED. */
  cancel(): void {
    this.call.cancel();
  }

  private assertOpen(what: string): void {
    if (this.finishedMessage !== undefined) throw new Error(`cannot ${what}: the decode has already finished`);
    if (this.stopped) throw new Error(`cannot ${what}: the decode has already been stopped`);
  }

  private observe(response: DecodeResponse): DecodeEvent {
    const kind = response.message?.$case;
    let awaitsDecision = false;
    if (kind === 'logits') {
      const lockstep = this.startedMessage?.mode !== DecodeMode.DECODE_MODE_AUTO;
      awaitsDecision = lockstep && this.stepsAlreadyDecided === 0;
      if (this.stepsAlreadyDecided > 0) this.stepsAlreadyDecided -= 1;
    }
    const event = toDecodeEvent(response, awaitsDecision);
    if (event.kind === 'started') this.startedMessage = event.started;
    if (event.kind === 'finished') {
      this.finishedMessage = event.finished;
      // Our half of the stream is done too; closing it lets the call end cleanly.
      this.call.end();
    }
    return event;
  }
}

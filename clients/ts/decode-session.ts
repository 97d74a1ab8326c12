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
 *
 * Branches (lockstep): `session.fork(step, 1)` copies branch 0 into branch 1 (the client picks the id); each
 * decision method takes the branch last (`session.decide(step, force(9), 1)`); `session.drop(step, branch)`
 * ends one. Step, token and finished events carry their branch; the stream ends with its last branch's
 * `finished`.
 */
import type { ClientDuplexStream } from '@grpc/grpc-js';
import { type StepwiseCallOptions } from './call-options.js';
import { accept, drop, force, fork, reconfigure, rewind, stepsDecidedAhead, stop, toDecodeRequest } from './decisions.js';
import type { Decision, PipelineChangeInput } from './decisions.js';
import { toDecodeEvent, type DecodeEvent } from './decode-events.js';
import { readEventStream } from './event-stream.js';
import { DecodeMode, type DecodeRequest, type DecodeResponse, type Finished, type Started } from './proto.js';

export class DecodeSession implements AsyncIterable<DecodeEvent> {
  private startedMessage: Started | undefined;
  private finishedMessage: Finished | undefined;
  /** By branch: steps of a forced run that the server streams without waiting for a decision. */
  private readonly stepsAlreadyDecided = new Map<number, number>();
  private readonly liveBranches = new Set([0]);
  private readonly stoppedBranches = new Set<number>();
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

  /** The stream's end (reason, ids, text, timings), once the `finished` event was read (with branches: the last live branch's). */
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

  /** Sends `decision` as the answer to `branch`'s `step` (`stop()` ends the branch). */
  decide(step: number, decision: Decision, branch = 0): void {
    if (decision.action === 'stop') return this.stop(branch);
    this.assertOpen(`answer step ${step}`, branch);
    this.call.write(toDecodeRequest(step, decision, branch));
    this.stepsAlreadyDecided.set(branch, stepsDecidedAhead(decision));
    if (decision.action === 'fork') this.liveBranches.add(decision.newBranch);
    if (decision.action === 'drop') this.liveBranches.delete(branch);
  }

  /** Lets the server select the token of `step`, after applying `pipelineChanges`. */
  accept(step: number, pipelineChanges: readonly PipelineChangeInput[] = [], branch = 0): void {
    this.decide(step, accept(pipelineChanges), branch);
  }

  /** Takes `tokenIds` (one id, or a run from `step` on) instead of selecting. */
  force(step: number, tokenIds: number | readonly number[], pipelineChanges: readonly PipelineChangeInput[] = [], branch = 0): void {
    this.decide(step, force(tokenIds, pipelineChanges), branch);
  }

  /** Changes the pipeline, then lets the server select `step`'s token with it. */
  reconfigure(step: number, pipelineChanges: readonly PipelineChangeInput[], branch = 0): void {
    this.decide(step, reconfigure(pipelineChanges), branch);
  }

  /** Removes the last `count` tokens; the step at the rewound position is streamed again. */
  rewind(step: number, count: number, pipelineChanges: readonly PipelineChangeInput[] = [], branch = 0): void {
    this.decide(step, rewind(count, pipelineChanges), branch);
  }

  /**
   * Copies `branch`, as it awaits `step`, into `newBranch` (an id the client chooses, unused in this stream);
   * both then await a decision for `step`, which may be sent at once.
   */
  fork(step: number, newBranch: number, branch = 0): void {
    this.decide(step, fork(newBranch), branch);
  }

  /** Ends `branch` (awaiting `step`) and frees it; nothing more comes for it. Not the last live branch. */
  drop(step: number, branch: number): void {
    this.decide(step, drop(), branch);
  }

  /** Ends the decode (with branches: `branch`); it then finishes with reason CLIENT_STOP. */
  stop(branch = 0): void {
    this.assertOpen('stop', branch);
    this.call.write(toDecodeRequest(0, stop(), branch)); // a stop answers no particular step
    this.stoppedBranches.add(branch);
  }

  /** Abandons the stream at once (the server frees it); iteration then fails with CANCELLED. */
  cancel(): void {
    this.call.cancel();
  }

  private assertOpen(what: string, branch: number): void {
    if (this.finishedMessage !== undefined) throw new Error(`cannot ${what}: the decode has already finished`);
    if (!this.liveBranches.has(branch)) throw new Error(`cannot ${what}: branch ${branch} is not live (never forked, dropped or finished)`);
    if (this.stoppedBranches.has(branch)) {
      const label = branch === 0 && this.liveBranches.size === 1 ? 'the decode' : `branch ${branch}`;
      throw new Error(`cannot ${what}: ${label} has already been stopped`);
    }
  }

  private observe(response: DecodeResponse): DecodeEvent {
    let awaitsDecision = false;
    if (response.message?.$case === 'logits') {
      const lockstep = this.startedMessage?.mode !== DecodeMode.DECODE_MODE_AUTO;
      const ahead = this.stepsAlreadyDecided.get(response.message.value.branch) ?? 0;
      awaitsDecision = lockstep && ahead === 0;
      this.stepsAlreadyDecided.set(response.message.value.branch, Math.max(0, ahead - 1));
    }
    const event = toDecodeEvent(response, awaitsDecision);
    if (event.kind === 'started') this.startedMessage = event.started;
    if (event.kind === 'forked') this.liveBranches.add(event.branch);
    if (event.kind === 'finished') {
      this.liveBranches.delete(event.branch);
      if (this.liveBranches.size > 0) return event; // other branches go on
      this.finishedMessage = event.finished;
      // Our half of the stream is done too; closing it lets the call end cleanly.
      this.call.end();
    }
    return event;
  }
}

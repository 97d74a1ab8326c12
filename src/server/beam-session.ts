/**
 * One beam search stream (`num_beams` > 1, AUTO mode), over the runtime's decode states:
 *
 * ```
 *   Started ──► decoder run for every live beam (one batch) ──► log-softmax + pipeline per beam
 *                    ▲                                                   │
 *                    │                                                   ▼
 *      fork / append / dispose states ◄── no ── done? ◄── BeamStep ◄── BeamSearchScorer.step
 *                                                │ yes
 *                                                ▼
 *                                  Finished (the returned sequences)
 * ```
 *
 * The search itself is `BeamSearchScorer` (pure, Hugging Face's rules); the states behind the beams are
 * `BeamStates`; this module runs the decoder, feeds the scorer and streams. The next decoder run starts as
 * soon as a step's beams are chosen, before the step is streamed. A client `stop` (read when a step's rows
 * arrive, before its selection) ends the search with the finished beams and the live ones scored where they
 * are; a decision is refused, as a beam search has no single token to accept, force or rewind.
 *
 * Usage (what `SessionFactory.open` does for a `Start` with beams):
 * ```ts
 * const session = new BeamSession({ model, plan, beams, logProbs, started, encoded, fork, send, messages, signal, startedAt });
 * context.onEnd(() => session.dispose());
 * await session.run();   // Started, a BeamStep per step, Finished
 * ```
 */
import { performance } from 'node:perf_hooks';
import type { DecodeRequest } from '../gen/stepwise/v1/stepwise.js';
import { BeamSearchScorer, type BeamLogProbs, type FinishedBeam } from '../processors/index.js';
import type { DecodeState, EncodedInput, ModelRuntime } from '../runtime/types.js';
import type { BeamPlan } from './beam-request.js';
import { BeamStates, type ForkState } from './beam-states.js';
import { beamFinishedMessage, beamStepMessage } from './beam-wire.js';
import type { ClientMessages } from './client-messages.js';
import type { DecodePlan } from './decode-plan.js';
import type { MalformedRequest } from './service-definition.js';
import { readClientMessage, startedMessage, type FinishCause, type StartedFacts } from './session-wire.js';
import type { SendMessage } from './step-messages.js';
import type { StreamObserver } from './stream-report.js';
import { failedPrecondition } from './status.js';

export interface BeamSessionParts {
  /** The model; its `step` batches the beams (and other streams) into shared runs. */
  readonly model: ModelRuntime;
  readonly plan: DecodePlan;
  readonly beams: BeamPlan;
  /** The stream's pipeline, run on each beam's log-probabilities. */
  readonly logProbs: BeamLogProbs;
  /** What `Started` reports beyond the plan. */
  readonly started: StartedFacts;
  readonly encoded: EncodedInput;
  /** How a beam's state is forked (the runtime's `DecodeState.fork`). */
  readonly fork: ForkState;
  readonly send: SendMessage;
  /** Client messages after `Start` (`Decode`); absent for `Generate`. */
  readonly messages: ClientMessages<DecodeRequest | MalformedRequest> | undefined;
  /** Raised when the call ends any other way (cancel, deadline, shutdown). */
  readonly signal: AbortSignal;
  /** `performance.now()` when `Start` arrived, for `Timings.total_ms`. */
  readonly startedAt: number;
  /** Hears of each decoder run (for the access log and the metrics). */
  readonly observer?: StreamObserver;
}

/** A decoder run over the live beams' states: `raws[i]` is `states[i]`'s row, `rowOf[b]` live beam b's. */
interface DecoderRun {
  readonly states: readonly DecodeState[];
  readonly rowOf: readonly number[];
  readonly raws: readonly Float32Array[];
}

export class BeamSession {
  private readonly states: BeamStates;
  private readonly search: BeamSearchScorer;
  /** One processed row per state, reused at every step. */
  private readonly processed: Float32Array[];
  private readonly stepMs: number[] = [];

  constructor(private readonly parts: BeamSessionParts) {
    const { model, plan, beams, encoded } = parts;
    this.states = new BeamStates(model.createState(encoded, plan.decoderPrefix), beams.numBeams, parts.fork);
    this.search = new BeamSearchScorer({ ...beams, eosIds: plan.eosIds, maxNewTokens: plan.maxNewTokens });
    this.processed = Array.from({ length: beams.numBeams }, () => new Float32Array(model.info.vocabSize));
  }

  /** Frees every beam's decode state; idempotent, and safe while a step is running. */
  dispose(): void {
    this.states.dispose();
  }

  /** Runs the search to its end: `Started`, a `BeamStep` per step, then `Finished`. */
  async run(): Promise<void> {
    const { send, model, plan, started } = this.parts;
    await send(startedMessage(model.info, plan, started));
    let run = this.startRun();
    for (let step = 0; ; step++) {
      const rows = this.processedRows(await run, step);
      if (this.clientStopped(step)) return this.finish('client-stop', this.search.stoppedResult());
      const outcome = this.search.step(rows);
      // The next decoder run starts before this step is streamed, so the two overlap.
      if (!outcome.done) {
        this.states.advance(outcome.next);
        run = this.startRun();
      }
      // The step that ends the search leaves no live beam: its results are `Finished`'s.
      await send(beamStepMessage(step, outcome.done ? [] : this.search.beams, this.search.finishedCount));
      if (outcome.done) return this.finish(step + 1 >= plan.maxNewTokens ? 'max-new-tokens' : 'eos', this.search.result());
    }
  }

  /**
   * Starts one decoder run for every live beam's state. A stream that ends while it runs never awaits it:
   * its rejection is marked handled here and surfaces only where it is awaited.
   */
  private startRun(): Promise<DecoderRun> {
    const run = this.runDecoder();
    run.catch(() => {});
    return run;
  }

  private async runDecoder(): Promise<DecoderRun> {
    const { model, signal, observer } = this.parts;
    signal.throwIfAborted();
    const states = this.states.distinct;
    const rowOf = this.states.rowOf;
    const begin = performance.now();
    const raws = await model.step(states);
    // A cancel during the run disposes the states; the runtime then hands back empty rows.
    signal.throwIfAborted();
    const ms = performance.now() - begin;
    this.stepMs.push(ms);
    observer?.stepComputed(ms);
    return { states, rowOf, raws };
  }

  /** Each live beam's processed log-probability row, from a decoder run's raw rows. */
  private processedRows({ states, rowOf, raws }: DecoderRun, step: number): Float32Array[] {
    states.forEach((state, i) => this.parts.logProbs.compute(raws[i]!, state.tokens, step, this.processed[i]!));
    return rowOf.map((i) => this.processed[i]!);
  }

  /** Whether the client sent `stop`; a decision is refused (there is no single token to steer). */
  private clientStopped(step: number): boolean {
    const incoming = this.parts.messages;
    for (let request = incoming?.poll(); request !== undefined; request = incoming?.poll()) {
      if (readClientMessage(request, step).kind === 'stop') return true;
      throw failedPrecondition(
        `\`decision\` cannot steer a beam search (num_beams ${this.parts.beams.numBeams}): it has no single token ` +
          'to accept, force or rewind; send `stop` to end it',
      );
    }
    return false;
  }

  private async finish(cause: FinishCause, returned: readonly FinishedBeam[]): Promise<void> {
    const { model, send, encoded, startedAt } = this.parts;
    const timings = { encodeMs: encoded.encodeMs, stepMs: this.stepMs, totalMs: performance.now() - startedAt };
    await send(beamFinishedMessage(cause, returned, model.tokenizer, timings));
  }
}

/**
 * The main thread's handle of a decode state kept on the model thread. It keeps the decoder history (see
 * `DecodeStateBase`) and mirrors the cached length, so `tokens`, `cachedLength`, `append` and `rewind`
 * answer at once, with the same checks and messages as the in-process state. Its edits since the last step
 * are recorded in order and replayed on the thread's state by the next step, so a rewind there cuts the
 * cache exactly as it would in-process.
 */
import { DecodeStateBase, type StateOwner } from '../decode-state-base.js';
import type { NextTokenHint } from '../types.js';
import type { WorkerEncodedInput } from './worker-encoded-input.js';
import type { StateEdit } from './worker-protocol.js';

/** What a handle needs from the model that owns it. */
export type WorkerStateOwner = StateOwner<WorkerDecodeState>;

export class WorkerDecodeState extends DecodeStateBase<WorkerDecodeState> {
  /** The model's link to the thread the state lives on: its encoder output's. */
  readonly thread: object;
  private edits: StateEdit[] = [];
  private cached = 0;

  constructor(owner: WorkerStateOwner, id: number, encoded: WorkerEncodedInput, initialTokens: readonly number[]) {
    super(owner, id, encoded, initialTokens);
    this.thread = encoded.thread;
  }

  get cachedLength(): number {
    return this.cached;
  }

  /**
   * Takes over `source`'s cached length and its edits not yet sent: the thread forks `source`'s state as
   * it stands after its last step, and this handle's next step replays the same edits on the fork.
   */
  continueFrom(source: WorkerDecodeState): void {
    this.cached = source.cached;
    this.edits = source.edits.map((edit) => ('append' in edit ? { append: [...edit.append] } : { ...edit }));
  }

  /** Marks a step in flight and hands over the edits it must replay first, and the hint for the step after. */
  beginStep(): { edits: StateEdit[]; next: NextTokenHint | undefined } {
    this.isStepping = true;
    const edits = this.edits;
    const next = this.nextHint;
    this.edits = [];
    this.nextHint = undefined;
    return { edits, next };
  }

  /** Ends the step; `cachedLength` is the thread's cached length after it. */
  endStep(cachedLength: number | undefined): void {
    this.isStepping = false;
    if (cachedLength !== undefined) this.cached = cachedLength;
  }

  protected appended(token: number): void {
    const last = this.edits[this.edits.length - 1];
    if (last !== undefined && 'append' in last) (last.append as number[]).push(token);
    else this.edits.push({ append: [token] });
  }

  protected rewound(n: number, keepLastCached: boolean): void {
    // The thread keeps the K/V of every token (but the last, which the next step re-feeds, by default).
    this.cached = Math.min(this.cached, this.history.length - (keepLastCached ? 0 : 1));
    this.edits.push(keepLastCached ? { rewind: n, keepLastCached } : { rewind: n });
  }

  protected released(): void {}
}

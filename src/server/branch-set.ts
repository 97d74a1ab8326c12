/**
 * The branches of one decode stream, by id: lookups that name the field on error, forks within the
 * per-stream limit (`max_branches_per_stream`) and the server-wide one (`BranchBudget`), ends and drops,
 * and the release of every branch's KV cache when the stream ends. Ids are the client's (`Fork.branch`)
 * and never reused within a stream, so a late message can never reach another branch than it meant.
 */
import { BranchBudget } from './branch-budget.js';
import type { DecodeBranch } from './decode-branch.js';
import type { ClientMove } from './session-wire.js';
import { DEFAULT_SERVER_LIMITS } from './server-limits.js';
import { failedPrecondition, invalidArgument, resourceExhausted } from './status.js';

/** Largest branch id a client may choose (ids stay positive as signed 32-bit integers in any client). */
export const MAX_BRANCH_ID = 2 ** 31 - 1;

/** The limits a stream's forks are held to. */
export interface BranchLimits {
  /** Most live branches of the stream, its first included (`ServerLimits.maxBranchesPerStream`). */
  readonly perStream: number;
  /** The server's forked branches, all streams together. */
  readonly budget: BranchBudget;
}

/** The default limits, with a budget of its own (for a stream made without a server, as in tests). */
export function defaultBranchLimits(): BranchLimits {
  return { perStream: DEFAULT_SERVER_LIMITS.maxBranchesPerStream, budget: new BranchBudget(DEFAULT_SERVER_LIMITS.maxTotalBranches) };
}

export class BranchSet {
  private readonly live = new Map<number, DecodeBranch>();
  private readonly used = new Set<number>();
  private closed = false;

  constructor(
    first: DecodeBranch,
    private readonly limits: BranchLimits,
  ) {
    this.live.set(first.id, first);
    this.used.add(first.id);
  }

  /** Live branches. */
  get size(): number {
    return this.live.size;
  }

  /** Live branch ids, in increasing order. */
  ids(): number[] {
    return [...this.live.keys()].sort((a, b) => a - b);
  }

  /** Live branches, by increasing id. */
  branches(): DecodeBranch[] {
    return this.ids().map((id) => this.live.get(id)!);
  }

  /** The live branch `id`, or FAILED_PRECONDITION naming `field`. */
  get(id: number, field: string): DecodeBranch {
    const branch = this.live.get(id);
    if (branch === undefined) throw noSuchBranch(field, id, this.used.has(id), this.ids());
    return branch;
  }

  /**
   * Copies `parent` into a new branch `id` (the client's choice), within the limits; nothing is copied
   * when one refuses.
   */
  fork(parent: DecodeBranch, id: number): DecodeBranch {
    if (this.closed) throw failedPrecondition('the stream has ended; it forks no more');
    if (!Number.isInteger(id) || id < 1 || id > MAX_BRANCH_ID) {
      throw invalidArgument(`\`decision.fork.branch\` must be in [1, ${MAX_BRANCH_ID}]; given ${id}`);
    }
    if (this.used.has(id)) {
      throw invalidArgument(`\`decision.fork.branch\` must be an id not used before in this stream; given ${id}, already used`);
    }
    if (this.live.size >= this.limits.perStream) {
      throw resourceExhausted(
        `\`max_branches_per_stream\` is ${this.limits.perStream}: this stream has that many live branches; drop one before forking`,
      );
    }
    this.limits.budget.take();
    let child: DecodeBranch;
    try {
      child = parent.fork(id);
    } catch (error) {
      this.limits.budget.give();
      throw error;
    }
    this.live.set(id, child);
    this.used.add(id);
    return child;
  }

  /** Ends branch `id` (it finished or was dropped): its KV cache is freed at once. */
  end(id: number): void {
    const branch = this.live.get(id);
    if (branch === undefined) return;
    this.live.delete(id);
    branch.dispose();
    if (id !== 0) this.limits.budget.give();
  }

  /** Drops branch `id`; the last live branch cannot be dropped (the stream ends with a `Finished`). */
  drop(id: number): void {
    if (this.live.size === 1) throw lastBranchDrop(id);
    this.end(id);
  }

  /** Ends every branch (the stream ended); idempotent. */
  dispose(): void {
    this.closed = true;
    for (const id of this.ids()) this.end(id);
  }
}

/** The refusal of a message that names a branch the stream does not have (any more). */
export function noSuchBranch(field: string, id: number, ended: boolean, live: readonly number[]): Error {
  const what = ended ? 'has ended' : 'does not exist';
  return failedPrecondition(`\`${field}\` names branch ${id}, which ${what}; live branches: ${live.join(', ')}`);
}

/** Before a stream forks it has branch 0 alone: a message naming another is refused as `BranchSet.get` refuses it. */
export function requireFirstBranch(move: ClientMove): void {
  const [id, field] = move.kind === 'stop' ? [move.branch, 'stop.branch'] : [move.decision.branch, 'decision.branch'];
  if (id !== 0) throw noSuchBranch(field, id, false, [0]);
}

export function lastBranchDrop(id: number): Error {
  return failedPrecondition(`\`decision.drop\` cannot end branch ${id}: it is the stream's last live branch; send \`stop\` instead`);
}

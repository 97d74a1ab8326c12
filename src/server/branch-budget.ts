/**
 * The forked branches alive across every stream of one server, against `ServerLimits.maxTotalBranches`:
 * each holds a KV cache of its own, so this bounds the memory forks can take beyond the streams' own.
 */
import { resourceExhausted } from './status.js';

export class BranchBudget {
  private used = 0;

  constructor(readonly limit: number) {}

  /** Forked branches alive now. */
  get inUse(): number {
    return this.used;
  }

  /** Takes one branch's place, or throws RESOURCE_EXHAUSTED naming the limit. */
  take(): void {
    if (this.used >= this.limit) {
      throw resourceExhausted(
        `\`max_total_branches\` is ${this.limit}: that many forked branches are alive across the server's streams; drop a branch or retry later`,
      );
    }
    this.used += 1;
  }

  /** Gives back the place of a branch that ended. */
  give(): void {
    this.used = Math.max(0, this.used - 1);
  }
}

/**
 * What the benchmark's parent process and its two children (the Stepwise server, the gRPC client) say
 * to each other over Node's IPC channel, and a helper to ask a child and await its answer.
 */
import type { ResponseEncoding } from '../src/server/index.js';
import type { ChildProcess } from 'node:child_process';

import type { IntraOpSpinning, SchedulerStats } from '../src/runtime/index.js';

/** The server child's configuration, passed as its one argument (JSON). */
export interface ServerChildConfig {
  readonly modelDir: string;
  readonly intraOpNumThreads?: number;
  readonly maxWaitMs?: number;
  readonly maxBatch?: number;
  readonly catchUpSteps?: number;
  readonly intraOpSpinning?: IntraOpSpinning;
  readonly enableCpuMemArena?: boolean;
  readonly runAhead?: boolean;
  readonly threadNice?: number;
  /** How the server encodes its messages (`ServerComposition.responseEncoding`); undefined: its default. */
  readonly responseEncoding?: ResponseEncoding;
}

export type ServerCommand =
  /** Starts counting scheduler runs; with `loopDelay`, also monitors the event loop (a 1 ms timer). */
  | { readonly kind: 'probe-start'; readonly loopDelay: boolean }
  | { readonly kind: 'probe-read' }
  | { readonly kind: 'memory' }
  | { readonly kind: 'stop' };

export type ServerAnswer =
  /** `barePort`: the bare row server (`bare-rows.ts`) beside Stepwise's. */
  | { readonly kind: 'ready'; readonly port: number; readonly barePort: number }
  | { readonly kind: 'probe-started' }
  | {
      readonly kind: 'probe';
      /** Event-loop delay since `probe-start`, milliseconds (NaN when it was not monitored). */
      readonly eventLoopP99Ms: number;
      readonly eventLoopMaxMs: number;
      /** Scheduler counters since `probe-start`. */
      readonly scheduler: SchedulerStats;
      /** CPU time of the serving (main) thread since `probe-start` (NaN off Linux). */
      readonly servingThreadCpuMs: number;
    }
  | {
      readonly kind: 'memory';
      readonly rssBytes: number;
      readonly liveStates: number;
      /** Bytes of `ArrayBuffer`s alive (after a full GC) on the main thread and on the model thread. */
      readonly arrayBuffers: number;
    }
  | { readonly kind: 'stopped' };

export type DecodeMode = 'auto' | 'lockstep';

/** The raw logits every step streams: the row as float32 (the default), or none (the `StepLogits` without its row). */
export type RawLogits = 'float32' | 'none';

export type ClientCommand =
  /** Each prompt decoded in turn, the next starting when the previous finished. */
  | {
      readonly kind: 'one-by-one';
      readonly mode: DecodeMode;
      readonly prompts: number[][];
      readonly newTokens: number;
      readonly logits?: RawLogits;
    }
  /** Every prompt decoded at once (AUTO), stream i starting `i * staggerMs` after the first. */
  | {
      readonly kind: 'concurrent';
      readonly prompts: number[][];
      readonly newTokens: number;
      readonly staggerMs: number;
      readonly logits?: RawLogits;
    }
  /** `count` round trips of one row of `rowBytes` over the bare row server on `port` (`bare-rows.ts`). */
  | { readonly kind: 'bare-round-trips'; readonly port: number; readonly count: number; readonly rowBytes: number }
  /** LOCKSTEP streams taken to their last step and held there (their states alive), until `release`; adds to those already held. */
  | { readonly kind: 'hold'; readonly prompts: number[][]; readonly newTokens: number }
  | { readonly kind: 'release' }
  | { readonly kind: 'stop' };

export type ClientAnswer =
  | { readonly kind: 'ready' }
  /** `cpuMs`: the client process's CPU time over the whole command (every thread). */
  | { readonly kind: 'one-by-one'; readonly ms: number[]; readonly tokens: number[][]; readonly cpuMs: number }
  | {
      readonly kind: 'concurrent';
      /** From the first `Start` sent to the last `Finished` received. */
      readonly wallMs: number;
      readonly tokens: number[][];
      readonly cpuMs: number;
    }
  | { readonly kind: 'bare-round-trips'; readonly wallMs: number; readonly clientCpuMs: number }
  | { readonly kind: 'held' }
  | { readonly kind: 'released' }
  | { readonly kind: 'stopped' };

/** Sends `command` to `child` and resolves with its next answer; rejects if the child exits first. */
export function ask<A extends { kind: string }>(child: ChildProcess, command: ClientCommand | ServerCommand): Promise<A> {
  return new Promise((resolve, reject) => {
    const onMessage = (answer: A) => {
      child.off('exit', onExit);
      resolve(answer);
    };
    const onExit = (code: number | null) => {
      child.off('message', onMessage);
      reject(new Error(`a benchmark child process exited (code ${code}) before answering ${command.kind}`));
    };
    child.once('message', onMessage);
    child.once('exit', onExit);
    child.send(command);
  });
}

/** Resolves with a child's first message (its `ready`), or rejects if it exits first. */
export function firstAnswer<A>(child: ChildProcess): Promise<A> {
  return new Promise((resolve, reject) => {
    child.once('message', (answer: A) => resolve(answer));
    child.once('exit', (code) => reject(new Error(`a benchmark child process exited (code ${code}) while starting`)));
  });
}

/**
 * The messages between a `WorkerModel` (main thread) and the model thread (`model-thread.ts`).
 *
 * The model thread owns the ONNX sessions, the encoder outputs and every decode state's KV cache; the
 * main thread holds handles that name them by number. Requests that need an answer carry a `requestId`;
 * the others (creating and disposing states, releasing encoder outputs) are fire-and-forget and rely on
 * the channel's ordering: a state created before a step is known to the thread when that step arrives.
 *
 * Logits rows are written to shared memory (`row-slots.ts`), two slots per state used in turn; encoder outputs
 * and the rows of scored targets travel as transferred `ArrayBuffer`s.
 */
import { InvalidInputError, ModelFolderError, ModelRuntimeError, OutOfRangeError, StateError } from '../errors.js';
import type { LoadModelOptions, ModelInfo, NextTokenHint } from '../types.js';


/** The data a model thread starts with (`workerData`). */
export interface ModelThreadData {
  readonly dir: string;
  readonly options: LoadModelOptions;
  /** Whether the thread runs hinted steps ahead (`WorkerModelOptions.runAhead`). */
  readonly runAhead: boolean;
  /** Nice value the thread adds to its own before it loads the model (`WorkerModelOptions.threadNice`). */
  readonly threadNice: number;
}

/**
 * A mutation of a decode state made on the main thread since its last step, replayed on the thread's
 * state in order before the step runs (so a rewind there cuts the cache exactly as it would in-process).
 */
export type StateEdit = { readonly append: readonly number[] } | { readonly rewind: number; readonly keepLastCached?: boolean };

/** One state of a step request: its id, the edits to replay first, and the token expected after its row. */
export interface StepMember {
  readonly stateId: number;
  readonly edits: readonly StateEdit[];
  /** When set, the thread may run the state's following step on this guess before it is asked (`RunAhead`). */
  readonly next?: NextTokenHint;
}

/** One target of a score request: the thread's encoder output, the decoder prefix and the tokens scored. */
export interface ScoreMember {
  readonly encodedId: number;
  readonly prefix: readonly number[];
  readonly tokens: readonly number[];
}

export type ThreadRequest =
  | { readonly kind: 'encode'; readonly requestId: number; readonly inputs: readonly (readonly number[])[] }
  | { readonly kind: 'step'; readonly requestId: number; readonly members: readonly StepMember[] }
  | { readonly kind: 'score'; readonly requestId: number; readonly targets: readonly ScoreMember[] }
  | { readonly kind: 'warm-up'; readonly requestId: number }
  | { readonly kind: 'live-states'; readonly requestId: number }
  | { readonly kind: 'memory'; readonly requestId: number }
  | { readonly kind: 'run-ahead-stats'; readonly requestId: number }
  | { readonly kind: 'dispose'; readonly requestId: number }
  | { readonly kind: 'create-state'; readonly stateId: number; readonly encodedId: number; readonly prefix: readonly number[] }
  /** A new state `stateId`: a copy of state `sourceId` as its last step left it (`DecodeState.fork`). */
  | { readonly kind: 'fork-state'; readonly stateId: number; readonly sourceId: number }
  | { readonly kind: 'dispose-state'; readonly stateId: number }
  | { readonly kind: 'release-encoded'; readonly encodedIds: readonly number[] }
  /** Ends the thread with `code` once the requests before it are done, as a crash would (tests, drills). */
  | { readonly kind: 'exit'; readonly code: number };

export type ThreadReply =
  /** The model is loaded: everything the main thread serves from memory. */
  | { readonly kind: 'ready'; readonly info: ModelInfo }
  | { readonly kind: 'load-failed'; readonly error: SerializedError }
  | {
      readonly kind: 'encoded';
      readonly requestId: number;
      readonly encodedIds: readonly number[];
      /** One buffer per input: its `[S * d_model]` hidden states. */
      readonly hiddenStates: readonly Float32Array[];
      readonly encodeMs: number;
    }
  | {
      readonly kind: 'stepped';
      readonly requestId: number;
      /** Each member's row slot; -1 for a state disposed while the step ran (an empty row). */
      readonly slots: readonly number[];
      /** Row chunks created by this step, in order; shared, not copied. */
      readonly newChunks: readonly SharedArrayBuffer[];
      /** Each member's cached length after the step, so the handles mirror the thread exactly. */
      readonly cachedLengths: readonly number[];
    }
  | {
      readonly kind: 'scored';
      readonly requestId: number;
      /** One buffer per target: its `tokens.length × vocab_size` logits, transferred (not copied). */
      readonly rows: readonly Float32Array[];
    }
  | { readonly kind: 'done'; readonly requestId: number; readonly value?: number }
  | { readonly kind: 'memory'; readonly requestId: number; readonly usage: ThreadMemoryUsage }
  | { readonly kind: 'run-ahead'; readonly requestId: number; readonly stats: RunAheadStats }
  /** A fire-and-forget request failed; nobody waits for it, so the main thread reports it as a warning. */
  | { readonly kind: 'unexpected'; readonly error: SerializedError }
  | {
      readonly kind: 'failed';
      readonly requestId: number;
      readonly error: SerializedError;
      /** For a failed step: each member's cached length after the failure. */
      readonly cachedLengths?: readonly number[];
    };

/** Steps the model thread ran ahead (`run-ahead.ts`) since it started. */
export interface RunAheadStats {
  /** Steps run ahead on a guessed token (one per state). */
  readonly guessed: number;
  /** Of those, the ones a request then took (it appended exactly the guessed token). */
  readonly hits: number;
}

/** The model thread's memory, after a full garbage collection when the process allows one. */
export interface ThreadMemoryUsage {
  /** Whether a full GC ran first (only when the process was started with `--expose-gc`). */
  readonly collected: boolean;
  /** Bytes of the thread's JavaScript heap in use. */
  readonly heapUsed: number;
  /** Bytes of `ArrayBuffer`s the thread holds (its tensors' data: caches, encoder outputs). */
  readonly arrayBuffers: number;
  /** Bytes of memory outside the heap the thread's objects hold, `arrayBuffers` included. */
  readonly external: number;
}

/** An error as it crosses the thread boundary: class name, message, and the folder file when there is one. */
export interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly file?: string;
  readonly stack?: string;
}

export function serializeError(error: unknown): SerializedError {
  if (error instanceof ModelFolderError) {
    return { name: error.name, message: error.message, file: error.file, stack: error.stack };
  }
  if (error instanceof Error) return { name: error.name, message: error.message, stack: error.stack };
  return { name: 'Error', message: String(error) };
}

const RUNTIME_ERRORS: Record<string, new (message: string) => ModelRuntimeError> = {
  InvalidInputError,
  OutOfRangeError,
  StateError,
};

/**
 * The error class the thread threw, rebuilt on this side so callers (the server's status mapping) see
 * the same class and message as with an in-process model. Anything unexpected stays a plain `Error`
 * whose cause carries the thread's stack.
 */
export function restoreError(serialized: SerializedError): Error {
  if (serialized.name === 'ModelFolderError' && serialized.file !== undefined) {
    const error = new ModelFolderError(serialized.file, '');
    error.message = serialized.message;
    return error;
  }
  const RuntimeError = RUNTIME_ERRORS[serialized.name];
  if (RuntimeError !== undefined) return new RuntimeError(serialized.message);
  const error = new Error(serialized.message, { cause: serialized.stack });
  error.name = serialized.name;
  return error;
}

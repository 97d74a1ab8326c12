/**
 * Deadlines and cancellation for one call: a deadline becomes gRPC's own (the server sees it and stops the
 * stream when it passes); an `AbortSignal` cancels the call, and the caller then gets the signal's reason,
 * as `fetch` does.
 */
import { status, type CallOptions, type ServiceError } from '@grpc/grpc-js';

export interface StepwiseCallOptions {
  /** Cancels the call when aborted (e.g. `AbortSignal.timeout(5000)` or a controller's signal). */
  readonly signal?: AbortSignal;
  /** The call fails with DEADLINE_EXCEEDED after this instant (a `Date`, or milliseconds since the epoch). */
  readonly deadline?: Date | number;
}

/** Options of a call about one of the server's models (`getModelInfo`, `tokenize`, `detokenize`). */
export interface ModelCallOptions extends StepwiseCallOptions {
  /** Which model (a name `listModels` gives); omitted: the server's default model. */
  readonly model?: string;
}

/** The gRPC options of a call. */
export function toGrpcCallOptions(options: StepwiseCallOptions): Partial<CallOptions> {
  return options.deadline === undefined ? {} : { deadline: options.deadline };
}

/**
 * Cancels `call` when `signal` aborts (at once if it already has); returns the function that stops
 * listening, to be run when the call ends so that long-lived signals do not keep calls alive.
 */
export function cancelOnAbort(call: { cancel(): void }, signal: AbortSignal | undefined): () => void {
  if (signal === undefined) return () => {};
  if (signal.aborted) {
    call.cancel();
    return () => {};
  }
  const onAbort = (): void => call.cancel();
  signal.addEventListener('abort', onAbort, { once: true });
  return () => signal.removeEventListener('abort', onAbort);
}

/** A failed call: the gRPC status name and the server's message, e.g. `INVALID_ARGUMENT: ...`. */
export class StepwiseCallError extends Error {
  override readonly name = 'StepwiseCallError';

  constructor(
    /** The RPC that failed, e.g. `Decode`. */
    readonly rpc: string,
    /** The gRPC status code. */
    readonly code: status,
    /** The server's message. */
    readonly details: string,
  ) {
    super(`${rpc} failed with ${status[code] ?? code}: ${details}`);
  }
}

function isServiceError(error: unknown): error is ServiceError {
  return error instanceof Error && typeof (error as Partial<ServiceError>).code === 'number' && 'details' in error;
}

/** What the caller sees for an error from `rpc`: the abort reason, a `StepwiseCallError`, or the error itself. */
export function callFailure(rpc: string, error: unknown, signal: AbortSignal | undefined): unknown {
  if (signal?.aborted) return signal.reason;
  if (isServiceError(error)) return new StepwiseCallError(rpc, error.code, error.details);
  return error;
}

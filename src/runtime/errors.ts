/**
 * The errors the runtime raises on purpose. Each class stands for one kind of failure so that a caller
 * (the gRPC server) can map it to a status without parsing messages:
 *
 * | class                | meaning                                                   | gRPC status           |
 * | -------------------- | --------------------------------------------------------- | --------------------- |
 * | `ModelFolderError`   | the model folder cannot be served (start-up failure)      | — (process exits)     |
 * | `InvalidInputError`  | ids, lengths or arguments the caller gave are not valid   | `INVALID_ARGUMENT`    |
 * | `OutOfRangeError`    | a valid request reaches past what the state holds (rewind) | `OUT_OF_RANGE`        |
 * | `StateError`         | the state or model cannot do this now (disposed, busy)    | `FAILED_PRECONDITION` |
 * | `ModelUnavailableError` | the model thread stopped; the model is restarting or down | `UNAVAILABLE`         |
 *
 * Messages name the field or file, what was expected and what was found, e.g.
 * "input_ids[3] must be in [0, 512); given 900".
 */

/** Common base, so callers can tell the runtime's deliberate errors from anything unexpected. */
export abstract class ModelRuntimeError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    // Stack traces and logs then show the concrete class, e.g. "InvalidInputError: …".
    this.name = new.target.name;
  }
}

/** The model folder is missing a file, has an invalid config, or holds ONNX files that break the contract. */
export class ModelFolderError extends ModelRuntimeError {
  /** The file (relative to the model folder) the problem was found in. */
  readonly file: string;

  constructor(file: string, message: string, options?: { cause?: unknown }) {
    super(`${file}: ${message}`, options);
    this.file = file;
  }
}

/** The caller passed ids, lengths or arguments outside what the model accepts. */
export class InvalidInputError extends ModelRuntimeError {}

/** The caller asked for more than the state holds, e.g. rewinding past the decoder start token. */
export class OutOfRangeError extends ModelRuntimeError {}

/** The state or model cannot do this now: it was disposed, or a step is already running on it. */
export class StateError extends ModelRuntimeError {}

/**
 * The model cannot serve this request because its thread stopped (a crash, not a deliberate `dispose`):
 * the request was in flight on that thread, names a decode state or encoder output that lived there, or
 * came while the thread is being restarted (or after every restart failed). Nothing the caller did is
 * wrong; the same request can be retried once the model is back (`ModelRuntime.status` is `ready`).
 */
export class ModelUnavailableError extends ModelRuntimeError {
  /** The error for a request that failed because the thread stopped; `detail` says what was lost or why. */
  static threadStopped(detail: string, cause?: unknown): ModelUnavailableError {
    return new ModelUnavailableError(`the model thread stopped (${detail}); the request can be retried once the model is back`, { cause });
  }
}

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

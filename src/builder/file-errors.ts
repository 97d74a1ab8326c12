/**
 * A file-system failure of a build as one line a person can act on: what was being done, to which file (as
 * the user named it, never the temporary folder the build writes first), and the system's reason, e.g.
 * "cannot write /data/t5/onnx/decoder_model.onnx: no space left on device (ENOSPC)".
 */

/** A build failed on a file: `message` names the file; `cause` keeps Node's error. */
export class BuildFileError extends Error {
  override readonly name = 'BuildFileError';

  constructor(
    message: string,
    /** Node's error code (`EACCES`, `ENOSPC`, ...), when there was one. */
    readonly code: string | undefined,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Node's system errors read "ENOSPC: no space left on device, write '/path'"; the path is ours to name. */
const SYSTEM_ERROR = /^(E[A-Z0-9]+): ([^,]+)/;

/** `error` as a `BuildFileError` saying that `action` (a verb phrase: "write", "create the folder") failed on `path`. */
export function fileFailure(action: string, path: string, error: unknown): BuildFileError {
  if (error instanceof BuildFileError) return error;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const message = error instanceof Error ? error.message : String(error);
  const system = SYSTEM_ERROR.exec(message);
  const reason = system ? `${system[2]} (${system[1]})` : message;
  return new BuildFileError(`cannot ${action} ${path}: ${reason}`, code, { cause: error });
}

/** Runs one file operation; a failure becomes a `BuildFileError` naming `path`. */
export async function onFile<T>(action: string, path: string, operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    throw fileFailure(action, path, error);
  }
}

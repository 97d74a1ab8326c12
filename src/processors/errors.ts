/**
 * Every error the processors room throws on purpose. The server maps them to gRPC statuses:
 * `ProcessorParameterError`, `UnknownProcessorError`, `PipelineError` and `RequestFieldError` to
 * INVALID_ARGUMENT, `EmptyDistributionError` to FAILED_PRECONDITION; the others stop the server at start-up.
 */
import { named } from './echo.js';

/** A processor parameter (or a generation-config field) that cannot be used; raised at `Start`. */
export class ProcessorParameterError extends Error {
  override readonly name = 'ProcessorParameterError';

  /**
   * @param processor the processor (or `generation_config`) the parameter belongs to
   * @param parameter the parameter's name
   * @param detail what is wrong, naming the bound and the value given, e.g. "`top_p` must be in (0, 1]; given 1.5"
   */
  constructor(
    readonly processor: string,
    readonly parameter: string,
    readonly detail: string,
  ) {
    super(`processor \`${processor}\`: ${detail}`);
  }
}

/** A pipeline names a processor nobody registered. */
export class UnknownProcessorError extends Error {
  override readonly name = 'UnknownProcessorError';

  constructor(
    readonly processor: string,
    known: readonly string[],
  ) {
    super(`unknown processor ${named(processor)}; registered processors: ${known.join(', ')}`);
  }
}

/** Two definitions claim the same name; refused at start-up so that a name always means one thing. */
export class DuplicateProcessorError extends Error {
  override readonly name = 'DuplicateProcessorError';

  constructor(
    readonly processor: string,
    origin?: string,
  ) {
    super(`processor \`${processor}\` is registered twice${origin === undefined ? '' : ` (again by ${origin})`}`);
  }
}

/** A plugin module that cannot be loaded or does not follow the plugin API. */
export class PluginLoadError extends Error {
  override readonly name = 'PluginLoadError';

  constructor(
    readonly path: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(`processor plugin ${path}: ${reason}`, options);
  }
}

/** A pipeline that names a processor twice, or a change (add / replace / remove) that does not fit it. */
export class PipelineError extends Error {
  override readonly name = 'PipelineError';

  /**
   * @param message what does not fit, naming the processor
   * @param processor the processor the refusal is about, when there is one
   */
  constructor(
    message: string,
    readonly processor?: string,
  ) {
    super(message);
  }
}

/**
 * The processed row of a step has no finite value left, so no token can be chosen. Never answered with a
 * silent token 0: the stream ends, naming the step and the processors that removed the candidates.
 */
export class EmptyDistributionError extends Error {
  override readonly name = 'EmptyDistributionError';

  /**
   * @param step the step being decided (0 = first generated token)
   * @param processors the processors that removed finite scores, in pipeline order (the last one emptied
   *   the row); empty when the model's raw scores had no finite value to begin with
   */
  constructor(
    readonly step: number,
    readonly processors: readonly string[],
  ) {
    super(
      processors.length === 0
        ? `step ${step}: the scores have no finite value, so no token can be chosen`
        : `step ${step}: no token is left to choose after the pipeline removed every candidate ` +
            `(removed by ${processors.map((name) => `\`${name}\``).join(', ')})`,
    );
  }
}

/**
 * A processors error traced to the request field it came from (e.g. "processors[2]",
 * "decision.pipeline_changes[0]", "generation_config.top_p"), so the client reads where to look:
 * "`processors[1]`: processor `top_p`: `top_p` must be in (0, 1]; given 1.5".
 */
export class RequestFieldError extends Error {
  override readonly name = 'RequestFieldError';

  constructor(
    readonly field: string,
    readonly error: ProcessorParameterError | UnknownProcessorError | PipelineError,
  ) {
    super(`\`${field}\`: ${error instanceof ProcessorParameterError && error.processor === 'generation_config' ? error.detail : error.message}`, {
      cause: error,
    });
  }
}

/** Whether `error` is a refusal of a pipeline, a processor or its parameters (what `RequestFieldError` wraps). */
export function isPipelineRefusal(error: unknown): error is ProcessorParameterError | UnknownProcessorError | PipelineError {
  return error instanceof ProcessorParameterError || error instanceof UnknownProcessorError || error instanceof PipelineError;
}

/** Runs `action`; a pipeline refusal it throws is re-raised as a `RequestFieldError` naming `fieldOf(error)`. */
export function namingField<T>(action: () => T, fieldOf: (error: ProcessorParameterError | UnknownProcessorError | PipelineError) => string): T {
  try {
    return action();
  } catch (error) {
    if (isPipelineRefusal(error)) throw new RequestFieldError(fieldOf(error), error);
    throw error;
  }
}

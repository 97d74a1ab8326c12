/**
 * Every error the processors room throws on purpose. The server maps them to gRPC statuses:
 * `ProcessorParameterError`, `UnknownProcessorError` and `PipelineError` to INVALID_ARGUMENT,
 * `EmptyDistributionError` to FAILED_PRECONDITION; the others stop the server at start-up.
 */

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
    super(`unknown processor \`${processor}\`; registered processors: ${known.join(', ')}`);
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

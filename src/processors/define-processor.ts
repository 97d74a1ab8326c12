/**
 * `defineProcessor` turns a declarative blueprint (name, description, parameter schemas, a factory) into a
 * `ProcessorDefinition`. Built-ins use it, and plugins receive it through the plugin API, so every
 * processor validates and describes its parameters the same way.
 *
 * Usage:
 * ```ts
 * export const temperature = defineProcessor({
 *   name: 'temperature',
 *   description: 'Divides every score by `temperature`.',
 *   parameters: { temperature: { type: 'float', description: '…', required: true, min: { value: 0, inclusive: false } } },
 *   create: (params) => new TemperatureProcessor(params.temperature),
 * });
 * ```
 */
import { ProcessorParameterError } from './errors.js';
import { describeParameters, readParameters, type ParamSchemas, type ParamsOf } from './parameters.js';
import type { LogitsProcessor, ProcessorDefinition, StaticContext } from './types.js';

/** Throws the `ProcessorParameterError` of one parameter. */
export type Reject = (parameter: string, detail: string) => never;

export interface ProcessorBlueprint<S extends ParamSchemas, P = undefined> {
  /** Lower snake case, e.g. "top_p". */
  readonly name: string;
  readonly description: string;
  readonly parameters: S;
  /**
   * Checks that the schema cannot express (several parameters together, or the stream's tokenizer), run
   * at `Start` after the schema checks.
   */
  check?(params: ParamsOf<S>, context: StaticContext, reject: Reject): void;
  /**
   * The costly part of building an instance (tokenizing choices, compiling a pattern), run once at `Start`
   * after `check`; it may refuse with `reject` too. What it returns is handed to `create` (for the same
   * validated parameters and context), so the work is not done twice; instances must not change it.
   */
  prepare?(params: ParamsOf<S>, context: StaticContext, reject: Reject): P;
  create(params: ParamsOf<S>, context: StaticContext, prepared: P): LogitsProcessor;
}

const NAME_PATTERN = /^[a-z][a-z0-9_]*$/;

export function defineProcessor<const S extends ParamSchemas, P = undefined>(
  blueprint: ProcessorBlueprint<S, P>,
): ProcessorDefinition<ParamsOf<S>> {
  const { name, description, parameters } = blueprint;
  if (!NAME_PATTERN.test(name)) {
    throw new TypeError(`processor name ${JSON.stringify(name)} must be lower snake case (${NAME_PATTERN.source})`);
  }
  const described = describeParameters(parameters);
  const reject: Reject = (parameter, detail) => {
    throw new ProcessorParameterError(name, parameter, detail);
  };
  // What `prepare` made of each validated parameters object, for its `create`.
  const preparedFor = new WeakMap<object, { readonly context: StaticContext; readonly prepared: P }>();
  const prepare = (params: ParamsOf<S>, context: StaticContext): P =>
    blueprint.prepare === undefined ? (undefined as P) : blueprint.prepare(params, context, reject);
  return {
    name,
    description,
    parameters: described,
    validate(raw, context) {
      const params = readParameters(name, parameters, raw, context);
      blueprint.check?.(params, context, reject);
      if (blueprint.prepare !== undefined) preparedFor.set(params, { context, prepared: prepare(params, context) });
      return params;
    },
    create(params, context) {
      const entry = preparedFor.get(params);
      return blueprint.create(params, context, entry?.context === context ? entry.prepared : prepare(params, context));
    },
  };
}

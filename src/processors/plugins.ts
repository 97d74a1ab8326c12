/**
 * Server plugins: ES modules that add processors at start-up (`stepwise serve --plugin ./my-plugin.mjs`).
 * Clients then use them by name with parameters, like built-ins; clients never send code.
 *
 * A plugin module exports either
 * - `register(api)` (may be async), calling `api.registerProcessor(definition)` for each processor —
 *   `api.defineProcessor` builds definitions with the same parameter schemas, validation and
 *   `ListProcessors` descriptions as the built-ins; or
 * - a default export that is an array of `ProcessorDefinition` objects.
 *
 * Example: `examples/plugins/vowel-bias.mjs`.
 */
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import type { DependencyContainer } from 'tsyringe';
import { PROCESSOR_DEFINITION } from '../tokens.js';
import { defineProcessor } from './define-processor.js';
import { DuplicateProcessorError, PluginLoadError, ProcessorParameterError } from './errors.js';
import type { ProcessorDefinition } from './types.js';

/** What a plugin's `register` receives. */
export interface ProcessorPluginApi {
  /** Adds a processor; its name must not be registered yet. */
  registerProcessor(definition: ProcessorDefinition): void;
  /** Builds a definition from a declarative blueprint (see `define-processor.ts`). */
  readonly defineProcessor: typeof defineProcessor;
  /** The error to throw from a custom `validate` (mapped to INVALID_ARGUMENT). */
  readonly ProcessorParameterError: typeof ProcessorParameterError;
}

const NAME_PATTERN = /^[a-z][a-z0-9_]*$/;

/**
 * Imports each plugin module (paths relative to `baseDirectory`, by default the working directory) and
 * registers its processors under `PROCESSOR_DEFINITION`. Returns the names added, in order. Throws
 * `PluginLoadError` for a module that cannot be imported or breaks the plugin API, and
 * `DuplicateProcessorError` for a name already taken.
 */
export async function loadProcessorPlugins(
  container: DependencyContainer,
  paths: readonly string[],
  baseDirectory: string = process.cwd(),
): Promise<string[]> {
  const taken = new Set(
    container.isRegistered(PROCESSOR_DEFINITION)
      ? container.resolveAll<ProcessorDefinition>(PROCESSOR_DEFINITION).map((definition) => definition.name)
      : [],
  );
  const added: string[] = [];
  for (const path of paths) {
    const absolute = resolve(baseDirectory, path);
    let module: Record<string, unknown>;
    try {
      module = (await import(pathToFileURL(absolute).href)) as Record<string, unknown>;
    } catch (error) {
      throw new PluginLoadError(path, `cannot be imported: ${(error as Error).message}`, { cause: error });
    }
    const add = (definition: unknown): void => {
      assertDefinition(definition, path);
      if (taken.has(definition.name)) throw new DuplicateProcessorError(definition.name, path);
      taken.add(definition.name);
      added.push(definition.name);
      container.register(PROCESSOR_DEFINITION, { useValue: definition });
    };
    if (typeof module['register'] === 'function') {
      const api: ProcessorPluginApi = { registerProcessor: add, defineProcessor, ProcessorParameterError };
      try {
        await (module['register'] as (api: ProcessorPluginApi) => unknown)(api);
      } catch (error) {
        if (error instanceof PluginLoadError || error instanceof DuplicateProcessorError) throw error;
        throw new PluginLoadError(path, `register() failed: ${(error as Error).message}`, { cause: error });
      }
    } else if (Array.isArray(module['default'])) {
      for (const definition of module['default'] as unknown[]) add(definition);
    } else {
      throw new PluginLoadError(path, 'exports neither `register(api)` nor a default array of processor definitions');
    }
  }
  return added;
}

function assertDefinition(value: unknown, path: string): asserts value is ProcessorDefinition {
  const candidate = value as Partial<ProcessorDefinition> | null;
  const problem =
    typeof candidate !== 'object' || candidate === null
      ? 'a processor definition must be an object'
      : typeof candidate.name !== 'string' || !NAME_PATTERN.test(candidate.name)
        ? `processor name ${JSON.stringify(candidate.name)} must be lower snake case`
        : typeof candidate.description !== 'string'
          ? `processor \`${candidate.name}\` needs a description`
          : !Array.isArray(candidate.parameters)
            ? `processor \`${candidate.name}\` needs a parameters array`
            : typeof candidate.validate !== 'function' || typeof candidate.create !== 'function'
              ? `processor \`${candidate.name}\` needs validate() and create()`
              : undefined;
  if (problem !== undefined) throw new PluginLoadError(path, problem);
}

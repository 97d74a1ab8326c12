/**
 * The processor registry: every definition registered under `PROCESSOR_DEFINITION` (built-ins and
 * plugins), by name. Built once at start-up; a name registered twice stops the start-up.
 *
 * Usage (composition root):
 * ```ts
 * registerBuiltinProcessors(container);
 * await loadProcessorPlugins(container, ['./plugins/vowel-bias.mjs']);
 * container.registerSingleton(ProcessorRegistry);
 * const registry = container.resolve(ProcessorRegistry);   // throws DuplicateProcessorError
 * registry.get('top_p');                                   // throws UnknownProcessorError
 * ```
 */
// tsyringe needs the Reflect metadata API before its decorators run; importing it here keeps this module usable on its own.
import 'reflect-metadata';
import { injectAll, injectable, type DependencyContainer } from 'tsyringe';
import { PROCESSOR_DEFINITION } from '../tokens.js';
import { BUILTIN_PROCESSORS } from './builtin/index.js';
import { DuplicateProcessorError, UnknownProcessorError } from './errors.js';
import type { ParameterSpec, ProcessorDefinition } from './types.js';

/** What `ListProcessors` shows of one processor. */
export interface ProcessorDescription {
  readonly name: string;
  readonly description: string;
  readonly parameters: readonly ParameterSpec[];
}

@injectable()
export class ProcessorRegistry {
  private readonly byName = new Map<string, ProcessorDefinition>();

  constructor(@injectAll(PROCESSOR_DEFINITION) definitions: readonly ProcessorDefinition[]) {
    for (const definition of definitions) {
      if (this.byName.has(definition.name)) throw new DuplicateProcessorError(definition.name);
      this.byName.set(definition.name, definition);
    }
  }

  /** The definition of `name`; throws `UnknownProcessorError` (INVALID_ARGUMENT at `Start`). */
  get(name: string): ProcessorDefinition {
    const definition = this.byName.get(name);
    if (definition === undefined) throw new UnknownProcessorError(name, this.names());
    return definition;
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** Registered names, sorted. */
  names(): string[] {
    return [...this.byName.keys()].sort();
  }

  /** Every definition, sorted by name. */
  list(): ProcessorDefinition[] {
    return this.names().map((name) => this.byName.get(name)!);
  }

  /** The `ListProcessors` catalogue, sorted by name. */
  describe(): ProcessorDescription[] {
    return this.list().map(({ name, description, parameters }) => ({ name, description, parameters }));
  }
}

/** Registers every built-in definition under `PROCESSOR_DEFINITION`. */
export function registerBuiltinProcessors(container: DependencyContainer): void {
  for (const definition of BUILTIN_PROCESSORS) container.register(PROCESSOR_DEFINITION, { useValue: definition });
}

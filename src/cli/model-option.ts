/**
 * `--model NAME=DIR` (repeatable): a model folder and the name requests choose it by. A bare `--model DIR`
 * is named after its folder. The first is the default model; two with one name are refused.
 *
 * ```ts
 * readModelArgument('small=models/t5-small', refuse);   // { name: 'small', dir: 'models/t5-small', bare: false }
 * readModelArgument('models/flan-t5-base', refuse);     // { name: 'flan-t5-base', dir: 'models/flan-t5-base', bare: true }
 * checkModelNames([...]);                                // OptionError when a name comes twice
 * ```
 */
import { basename, resolve } from 'node:path';
import { OptionError } from './option-table.js';

/** A model name: what `Start.model` and the health service name `stepwise.v1.StepwiseService/NAME` carry. */
const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** One `--model` value. */
export interface ModelArgument {
  readonly name: string;
  readonly dir: string;
  /** Given as a bare DIR (named after the folder). */
  readonly bare: boolean;
}

/** Reads `NAME=DIR` (split at the first `=`) or a bare `DIR`. */
export function readModelArgument(text: string, refuse: (rule: string) => never): ModelArgument {
  const equals = text.indexOf('=');
  if (equals < 0) {
    if (text === '') refuse('must be DIR or NAME=DIR');
    return asGiven({ name: basename(resolve(text)), dir: text, bare: true }, text);
  }
  const name = text.slice(0, equals);
  const dir = text.slice(equals + 1);
  if (!MODEL_NAME.test(name)) refuse('must be DIR or NAME=DIR, NAME of 1 to 64 letters, digits, ".", "_" or "-" (not first)');
  if (dir === '') refuse('must be DIR or NAME=DIR, with a folder after "="');
  return asGiven({ name, dir, bare: false }, text);
}

/** The argument, written as JSON (the start-up line's settings) as it was given. */
function asGiven(argument: ModelArgument, text: string): ModelArgument {
  return Object.defineProperty(argument, 'toJSON', { value: () => text, enumerable: false });
}

/** Refuses two `--model` values with one name, naming both. */
export function checkModelNames(models: readonly ModelArgument[]): void {
  const seen = new Map<string, ModelArgument>();
  for (const model of models) {
    const first = seen.get(model.name);
    if (first !== undefined) {
      throw new OptionError(
        `\`--model\` names two models "${model.name}": ${shown(first)} and ${shown(model)}; give each its own name with NAME=DIR`,
      );
    }
    seen.set(model.name, model);
  }
}

function shown(model: ModelArgument): string {
  return model.bare ? model.dir : `${model.name}=${model.dir}`;
}

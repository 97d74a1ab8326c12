/**
 * Options declared once, read from three places: a command's flags, a config file (`--config FILE`, JSON
 * or YAML) and the environment. The flag wins over the file, the file over the environment, the
 * environment over the default. Each option names its flag, its environment variable and its key in the
 * file (the flag's long name, e.g. `max-streams: 32`), says what it does and what its default is (shown by
 * `--help`), and reads its own text, so a bad value is refused naming where it came from.
 *
 * Usage (what `serve-command.ts` does):
 * ```ts
 * const OPTIONS = { port: option({ flag: '--port <port>', env: 'STEPWISE_PORT', description: 'port to bind',
 *   defaultValue: 50051, read: integerIn(0, 65535) }) };
 * addOptions(command, OPTIONS);
 * // in the action:
 * const settings = await resolveOptions(OPTIONS, command.opts(), process.env);  // { port: number }
 * ```
 */
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { Command, Option } from 'commander';
import { parse as parseYaml } from 'yaml';

/** One option: where it is read from, what it means, and how its text becomes a value. */
export interface OptionSpec<T> {
  /** The flag with its argument, e.g. `--max-streams <n>`; a flag without argument is a switch. */
  readonly flag: string;
  /** The environment variable, e.g. `STEPWISE_MAX_STREAMS`. */
  readonly env: string;
  readonly description: string;
  /** The value when no source gives one; undefined: none (the option is then unset). */
  readonly defaultValue?: T;
  /** How `--help` shows a default computed elsewhere (e.g. "the model's maximum input length"). */
  readonly defaultText?: string;
  /** Reads one value's text; throws `OptionError` (via `refuse`) naming the value's source. */
  readonly read: (text: string, refuse: (rule: string) => never) => T;
  /** Repeatable (`--plugin a --plugin b`; a list in the file; comma-separated in the environment). */
  readonly repeatable?: boolean;
}

/** A bad option value, or a config file that cannot be used: one line naming the source. */
export class OptionError extends Error {
  override readonly name = 'OptionError';
}

/** Declares an option, keeping what it says of itself (repeatable, with a default) in its type. */
export function option<const S extends OptionSpec<any>>(spec: S): S {
  return spec;
}

/** The type an option's `read` gives. */
type ValueOf<S> = S extends { readonly read: (text: string, refuse: (rule: string) => never) => infer T } ? T : never;

/** The values of a table of options: each option's type (a list when repeatable), undefined when unset. */
export type OptionValues<Table> = {
  [K in keyof Table]: Table[K] extends { readonly repeatable: true }
    ? ValueOf<Table[K]>[]
    : Table[K] extends { readonly defaultValue: unknown }
      ? ValueOf<Table[K]>
      : ValueOf<Table[K]> | undefined;
};

/** The long name of a flag: `--max-streams <n>` → `max-streams`. */
export function longName(flag: string): string {
  return flag.split(/\s+/)[0]!.replace(/^--/, '');
}

/** Adds every option to `command` as a flag whose value commander keeps as text (read later, with the others). */
export function addOptions(command: Command, table: Record<string, OptionSpec<unknown>>): void {
  for (const [key, spec] of Object.entries(table)) {
    const shown = spec.defaultText ?? (spec.defaultValue === undefined ? undefined : describeDefault(spec.defaultValue));
    const description = `${spec.description} [env ${spec.env}]${shown === undefined ? '' : ` (default: ${shown})`}`;
    const flag = new Option(spec.flag, description);
    flag.attributeName = () => key;
    if (spec.repeatable) flag.argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value]);
    command.addOption(flag);
  }
}

/**
 * Each option's value: from its flag, else the config file named by `configPath`, else its environment
 * variable, else its default. `flags` are commander's values (text, or `true` for a switch).
 */
export async function resolveOptions<Table extends Record<string, OptionSpec<unknown>>>(
  table: Table,
  flags: Readonly<Record<string, unknown>>,
  env: Readonly<Record<string, string | undefined>>,
  configPath: string | undefined,
): Promise<OptionValues<Table>> {
  const file = configPath === undefined ? {} : await readConfigFile(configPath, table);
  const values: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(table)) {
    const name = longName(spec.flag);
    const flag = flags[key];
    const fromFile = file[name];
    const fromEnv = env[spec.env];
    if (flag !== undefined) values[key] = readAll(spec, flag, `\`--${name}\``);
    else if (fromFile !== undefined) values[key] = readAll(spec, fromFile, `\`${name}\` in ${configPath}`);
    else if (fromEnv !== undefined && fromEnv !== '') values[key] = readAll(spec, spec.repeatable ? fromEnv.split(',') : fromEnv, spec.env);
    else values[key] = spec.repeatable ? (spec.defaultValue === undefined ? [] : [spec.defaultValue].flat()) : spec.defaultValue;
  }
  return values as OptionValues<Table>;
}

/** Reads a value (or, for a repeatable option, each of a list) given as text, a number or a boolean. */
function readAll(spec: OptionSpec<unknown>, given: unknown, source: string): unknown {
  const one = (value: unknown): unknown => {
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      throw new OptionError(`${source} must be a single value; given ${JSON.stringify(value)}`);
    }
    const text = typeof value === 'boolean' && !/<|\[/.test(spec.flag) ? (value ? 'true' : 'false') : String(value);
    return spec.read(text, (rule) => {
      throw new OptionError(`${source} ${rule}; given ${describeGiven(text)}`);
    });
  };
  if (!spec.repeatable) return one(given);
  return (Array.isArray(given) ? given : [given]).map(one);
}

/** The config file as flag names to values; unknown names are refused, listing the known ones. */
async function readConfigFile(path: string, table: Record<string, OptionSpec<unknown>>): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new OptionError(`config file ${path} cannot be read: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = extname(path).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new OptionError(`config file ${path} is not valid ${extname(path).toLowerCase() === '.json' ? 'JSON' : 'YAML'}: ${(error as Error).message.split('\n')[0]}`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new OptionError(`config file ${path} must hold a mapping of option names to values; found ${Array.isArray(parsed) ? 'a list' : typeof parsed}`);
  }
  const known = new Set(Object.values(table).map((spec) => longName(spec.flag)));
  for (const key of Object.keys(parsed)) {
    if (!known.has(key)) {
      throw new OptionError(`config file ${path}: unknown option \`${key}\`; the options are ${[...known].sort().join(', ')}`);
    }
  }
  return parsed as Record<string, unknown>;
}

function describeDefault(value: unknown): string {
  if (Array.isArray(value)) return value.length === 0 ? 'none' : value.join(', ');
  if (typeof value === 'boolean') return value ? 'on' : 'off';
  return String(value);
}

/** A given value as an error message repeats it: cut to a short prefix, with its length. */
function describeGiven(text: string): string {
  return text.length <= 80 ? text : `${text.slice(0, 60)}… (${text.length} characters)`;
}

/** Readers for the common kinds of option. */
export const read = {
  text: (text: string): string => text,
  integerIn:
    (min: number, max: number) =>
    (text: string, refuse: (rule: string) => never): number => {
      const value = Number(text);
      if (!/^\s*\d+\s*$/.test(text) || value < min || value > max) refuse(`must be an integer in [${min}, ${max}]`);
      return value;
    },
  oneOf:
    <T extends string>(values: readonly T[]) =>
    (text: string, refuse: (rule: string) => never): T => {
      if (!(values as readonly string[]).includes(text)) refuse(`must be one of ${values.join(', ')}`);
      return text as T;
    },
  onOff: (text: string, refuse: (rule: string) => never): boolean => {
    if (text === 'on' || text === 'true') return true;
    if (text === 'off' || text === 'false') return false;
    return refuse('must be on or off');
  },
  /** A duration in seconds (a decimal number ≥ 0), as milliseconds. */
  seconds:
    (max: number) =>
    (text: string, refuse: (rule: string) => never): number => {
      const value = Number(text);
      if (text.trim() === '' || !Number.isFinite(value) || value < 0 || value > max) refuse(`must be a number of seconds in [0, ${max}]`);
      return Math.round(value * 1000);
    },
};

/**
 * A Dockerfile's steps run without a container daemon: each stage in its own folder (standing for its
 * `WORKDIR`), `COPY` from the build context or an earlier stage, `RUN` through `sh -c` in that folder with
 * the stage's `ENV`. Enough of the format for the project's own Dockerfile (a test that builds it where no
 * image can be built); anything it does not know is an error, not a silent skip.
 *
 * ```ts
 * const stages = parseDockerfile(readFileSync('Dockerfile', 'utf8'));
 * const built = runStages(stages, contextFolder, scratchFolder);
 * spawn(..., { cwd: built.at(-1)!.folder, env: { ...built.at(-1)!.env } });
 * ```
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, statSync } from 'node:fs';
import { basename, join, posix } from 'node:path';

export interface Instruction {
  readonly keyword: string;
  readonly args: string;
  /** Its first line in the file. */
  readonly line: number;
}

export interface Stage {
  readonly image: string;
  readonly name: string | undefined;
  readonly instructions: readonly Instruction[];
}

/** The instructions of each stage, continuation lines joined, comments dropped. */
export function parseDockerfile(text: string): Stage[] {
  const stages: Array<{ image: string; name: string | undefined; instructions: Instruction[] }> = [];
  const lines = text.split('\n');
  for (let index = 0; index < lines.length; index++) {
    const first = index + 1;
    let line = lines[index]!;
    if (/^\s*(#|$)/.test(line)) continue;
    while (line.endsWith('\\') && index + 1 < lines.length) line = `${line.slice(0, -1)} ${lines[++index]!.trim()}`;
    const [, keyword, args] = /^\s*(\w+)\s+(.*)$/.exec(line) ?? [];
    if (keyword === undefined || args === undefined) throw new Error(`Dockerfile line ${first}: cannot read ${JSON.stringify(line)}`);
    if (keyword.toUpperCase() === 'FROM') {
      const [, image, name] = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args.trim()) ?? [];
      stages.push({ image: image!, name, instructions: [] });
    } else {
      if (stages.length === 0) throw new Error(`Dockerfile line ${first}: ${keyword} before FROM`);
      stages.at(-1)!.instructions.push({ keyword: keyword.toUpperCase(), args: args.trim(), line: first });
    }
  }
  return stages;
}

/** The last instruction of a stage with this keyword. */
export function lastOf(stage: Stage, keyword: string): Instruction | undefined {
  return stage.instructions.filter((instruction) => instruction.keyword === keyword).at(-1);
}

/** The command of an exec-form ENTRYPOINT, CMD or `HEALTHCHECK [--flag=value ...] CMD [...]`, and its flags. */
export function execForm(instruction: Instruction): { command: string[]; flags: Map<string, string> } {
  const { flags: given, rest } = flags(instruction.args);
  const parsed = JSON.parse(instruction.keyword === 'HEALTHCHECK' ? rest.replace(/^CMD\s+/, '') : rest) as unknown;
  if (!Array.isArray(parsed) || !parsed.every((part) => typeof part === 'string')) {
    throw new Error(`Dockerfile line ${instruction.line}: ${instruction.keyword} is not in exec form`);
  }
  return { command: parsed, flags: given };
}

/** `--name=value` flags in front of an instruction's arguments, and the rest. */
function flags(args: string): { flags: Map<string, string>; rest: string } {
  const found = new Map<string, string>();
  let rest = args;
  for (let flag = /^--([\w-]+)=(\S+)\s+/.exec(rest); flag !== null; flag = /^--([\w-]+)=(\S+)\s+/.exec(rest)) {
    found.set(flag[1]!, flag[2]!);
    rest = rest.slice(flag[0].length);
  }
  return { flags: found, rest };
}

/** One stage, run: its folder (its WORKDIR), environment, user, and the log of its RUN steps. */
export interface BuiltStage {
  readonly stage: Stage;
  readonly folder: string;
  readonly workdir: string;
  readonly env: Readonly<Record<string, string>>;
  readonly user: string | undefined;
  /** Each `RUN` command with its time in ms. */
  readonly runs: ReadonlyArray<{ command: string; ms: number }>;
}

/**
 * Runs every stage's COPY, ENV, WORKDIR, USER and RUN, in order, in folders under `scratch`. `baseEnv` is
 * the environment the image starts from (PATH, HOME); `runEnv` is added for RUN steps only.
 */
export function runStages(
  stages: readonly Stage[],
  context: string,
  scratch: string,
  baseEnv: Readonly<Record<string, string>>,
  runEnv: Readonly<Record<string, string>> = {},
): BuiltStage[] {
  const built: BuiltStage[] = [];
  for (const [index, stage] of stages.entries()) {
    const folder = join(scratch, `stage-${index}-${stage.name ?? 'final'}`);
    mkdirSync(folder, { recursive: true });
    let workdir: string | undefined;
    let user: string | undefined;
    const env: Record<string, string> = { ...baseEnv };
    const runs: Array<{ command: string; ms: number }> = [];
    /** The folder standing for a path inside this stage (relative to WORKDIR, or absolute under it). */
    const local = (path: string, at: string, into: string, instruction: Instruction): string => {
      const absolute = posix.resolve(at, path);
      const inside = posix.relative(at, absolute);
      if (inside.startsWith('..')) throw new Error(`Dockerfile line ${instruction.line}: ${path} is outside WORKDIR ${at}`);
      return join(into, inside);
    };
    for (const instruction of stage.instructions) {
      const { keyword, args } = instruction;
      if (keyword !== 'WORKDIR' && ['COPY', 'RUN'].includes(keyword) && workdir === undefined) {
        throw new Error(`Dockerfile line ${instruction.line}: ${keyword} before WORKDIR`);
      }
      switch (keyword) {
        case 'WORKDIR':
          if (workdir !== undefined) throw new Error(`Dockerfile line ${instruction.line}: one WORKDIR per stage is supported`);
          workdir = args;
          break;
        case 'ENV':
          for (const [, name, value] of args.matchAll(/(\w+)=("[^"]*"|\S+)/g)) env[name!] = value!.replace(/^"|"$/g, '');
          break;
        case 'USER':
          user = args;
          break;
        case 'COPY': {
          const { flags: given, rest } = flags(args);
          const parts = rest.split(/\s+/);
          const destination = parts.pop()!;
          const from = given.get('from');
          const source = from === undefined ? undefined : built.find((earlier) => earlier.stage.name === from);
          if (from !== undefined && source === undefined) throw new Error(`Dockerfile line ${instruction.line}: no stage named ${from}`);
          const into = local(destination, workdir!, folder, instruction);
          for (const part of parts) {
            const path = source === undefined ? join(context, part) : local(part, source.workdir, source.folder, instruction);
            const toFolder = destination.endsWith('/') || parts.length > 1;
            const target = statSync(path).isDirectory() || !toFolder ? into : join(into, basename(path));
            cpSync(path, target, { recursive: true });
          }
          break;
        }
        case 'RUN': {
          const { rest: command } = flags(args);
          const began = performance.now();
          try {
            execFileSync('sh', ['-c', command], { cwd: folder, env: { ...env, ...runEnv }, stdio: 'pipe', maxBuffer: 64 * 1024 * 1024 });
          } catch (error) {
            const { stdout, stderr } = error as { stdout?: Buffer; stderr?: Buffer };
            throw new Error(`Dockerfile line ${instruction.line}: RUN ${command} failed:\n${stdout?.toString() ?? ''}${stderr?.toString() ?? ''}`);
          }
          runs.push({ command, ms: performance.now() - began });
          break;
        }
        case 'EXPOSE':
        case 'HEALTHCHECK':
        case 'ENTRYPOINT':
        case 'CMD':
        case 'LABEL':
          break;
        default:
          throw new Error(`Dockerfile line ${instruction.line}: ${keyword} is not supported here`);
      }
    }
    built.push({ stage, folder, workdir: workdir ?? '/', env, user, runs });
  }
  return built;
}

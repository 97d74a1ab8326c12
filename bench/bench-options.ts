/** The benchmark's command line: `npm run bench -- [--json] [--reps N] ...`. */
import { parseArgs } from 'node:util';

import { INTRA_OP_SPINNING, type IntraOpSpinning, isIntraOpSpinning } from '../src/runtime/index.js';

export interface BenchOptions {
  /** Print one JSON object as the last line of stdout. */
  readonly json: boolean;
  /** Measured repetitions (after one warm-up); medians are reported. */
  readonly reps: number;
  /** Prompts per run (one-by-one contenders and concurrent streams alike). */
  readonly prompts: number;
  /** Encoder input length of every prompt, in tokens (`</s>` included). */
  readonly promptTokens: number;
  /** Tokens generated per prompt (every contender runs to full length). */
  readonly newTokens: number;
  /** Delay between the starts of the staggered streams. */
  readonly staggerMs: number;
  /** ONNX Runtime intra-op threads for every contender; undefined: ONNX Runtime's default. */
  readonly intraOpNumThreads: number | undefined;
  /** The server scheduler's `maxWaitMs`; undefined: its default. */
  readonly maxWaitMs: number | undefined;
  /** ONNX Runtime intra-op spinning for every contender (the floor and transformers.js included). */
  readonly spinning: IntraOpSpinning;
  /** The server's ONNX Runtime CPU memory arena; undefined: the server's default. The floor keeps ONNX Runtime's. */
  readonly serverArena: boolean | undefined;
  /** The server's run-ahead on the model thread (`serve --run-ahead`); undefined: the server's default (on). */
  readonly runAhead: boolean | undefined;
  /** The server's model-thread nice value (`serve --model-thread-nice`); undefined: the server's default. */
  readonly modelThreadNice: number | undefined;
  /** Write V8 CPU profiles of the server and client children into this folder (`--cpu-prof`); undefined: none. */
  readonly cpuProfileDir: string | undefined;
}

const USAGE = `usage: npm run bench -- [--json] [--reps N] [--prompts N] [--prompt-tokens N] [--new-tokens N]
                        [--stagger-ms N] [--intra-op-threads N] [--max-wait-ms N]
                        [--spinning during-runs|always|off] [--server-arena on|off] [--run-ahead on|off]
                        [--model-thread-nice N] [--cpu-prof DIR]`;

export function parseBenchOptions(argv: readonly string[]): BenchOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      json: { type: 'boolean', default: false },
      reps: { type: 'string', default: '3' },
      prompts: { type: 'string', default: '16' },
      'prompt-tokens': { type: 'string', default: '32' },
      'new-tokens': { type: 'string', default: '64' },
      'stagger-ms': { type: 'string', default: '50' },
      'intra-op-threads': { type: 'string' },
      'max-wait-ms': { type: 'string' },
      spinning: { type: 'string', default: 'during-runs' },
      'server-arena': { type: 'string' },
      'run-ahead': { type: 'string' },
      'model-thread-nice': { type: 'string' },
      'cpu-prof': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const optional = (flag: string, value: string | undefined, min: number, max: number) =>
    value === undefined ? undefined : integer(flag, value, min, max);
  return {
    json: values.json,
    reps: integer('--reps', values.reps, 1, 100),
    prompts: integer('--prompts', values.prompts, 1, 64),
    promptTokens: integer('--prompt-tokens', values['prompt-tokens'], 2, 512),
    newTokens: integer('--new-tokens', values['new-tokens'], 2, 512),
    staggerMs: integer('--stagger-ms', values['stagger-ms'], 0, 10_000),
    intraOpNumThreads: optional('--intra-op-threads', values['intra-op-threads'], 1, 64),
    maxWaitMs: optional('--max-wait-ms', values['max-wait-ms'], 0, 1_000),
    spinning: spinningValue(values.spinning),
    serverArena: onOff('--server-arena', values['server-arena']),
    runAhead: onOff('--run-ahead', values['run-ahead']),
    modelThreadNice: optional('--model-thread-nice', values['model-thread-nice'], 0, 19),
    cpuProfileDir: values['cpu-prof'],
  };
}

function spinningValue(value: string): IntraOpSpinning {
  if (!isIntraOpSpinning(value)) {
    throw new Error(`\`--spinning\` must be one of ${INTRA_OP_SPINNING.join(', ')}; given ${value}\n${USAGE}`);
  }
  return value;
}

function onOff(flag: string, value: string | undefined): boolean | undefined {
  if (value === undefined) return undefined;
  if (value !== 'on' && value !== 'off') throw new Error(`\`${flag}\` must be on or off; given ${value}\n${USAGE}`);
  return value === 'on';
}

function integer(flag: string, value: string, min: number, max: number): number {
  const parsed = Number(value);
  if (!/^\d+$/.test(value.trim()) || parsed < min || parsed > max) {
    throw new Error(`\`${flag}\` must be an integer in [${min}, ${max}]; given ${value}\n${USAGE}`);
  }
  return parsed;
}

/**
 * `stepwise-client score INPUT TARGET...`: scores each target after INPUT on a running server, in one
 * teacher-forced pass (`Score`), and prints every target token's id, text, raw log-probability and rank,
 * with the target's sum and mean (or the whole answer as JSON).
 */
import { Command, InvalidArgumentError } from 'commander';
import type { ClientTls } from '../channel-security.js';
import type { ScoreResult, ScoreTargetInput } from '../score.js';
import { StepwiseClient } from '../stepwise-client.js';
import { addConnectionOptions, checkConnectionFlags, integerOption, tlsOf, type ConnectionFlags } from './connection-options.js';
import { formatScoreTables, scoreJson } from './score-report.js';

interface ScoreFlags extends ConnectionFlags {
  top: number;
  entropy?: boolean;
  ids?: boolean;
  json?: boolean;
  model?: string;
}

export interface ScoreCommandOptions {
  readonly server: string;
  readonly tls?: ClientTls;
  readonly token?: string;
  readonly input: string;
  /** The targets as given on the command line. */
  readonly targets: readonly string[];
  /** The targets are comma-separated token ids. */
  readonly ids: boolean;
  readonly top: number;
  readonly entropy: boolean;
  readonly json: boolean;
  /** Which of the server's models scores; undefined: its default. */
  readonly model?: string;
}

/** `644,4598,1` as ids; the error names the target. */
export function parseTargetIds(target: string): number[] {
  const parts = target.split(',').map((part) => part.trim());
  if (parts.some((part) => !/^\d+$/.test(part) || !Number.isSafeInteger(Number(part)))) {
    throw new InvalidArgumentError(`with --ids, each target must be token ids separated by commas, e.g. 644,4598,1; given ${JSON.stringify(target)}`);
  }
  return parts.map(Number);
}

/** Scores the targets and prints the tables (or the JSON object) to `out`; resolves with the answer. */
export async function runScoreCommand(options: ScoreCommandOptions, out: NodeJS.WritableStream, signal?: AbortSignal): Promise<ScoreResult> {
  const targets: ScoreTargetInput[] = options.ids ? options.targets.map(parseTargetIds) : [...options.targets];
  const client = new StepwiseClient(options.server, { tls: options.tls, token: options.token });
  try {
    const result = await client.score({ text: options.input, targets, topNAlternatives: options.top, entropy: options.entropy, model: options.model }, { signal });
    out.write(`${options.json ? scoreJson(result, options.targets) : formatScoreTables(result, options.targets, options)}\n`);
    return result;
  } finally {
    client.close();
  }
}

export function register(program: Command): void {
  const score = program
    .command('score')
    .description(
      'Score each TARGET after INPUT on a running server in one teacher-forced pass: every target token with ' +
        'its raw log-probability and rank, and the sum and mean per target.',
    )
    .argument('<input>', 'the encoder input, e.g. "translate English to German: The house is wonderful."')
    .argument('<target...>', 'the targets, e.g. "Das Haus ist wunderbar." (tokenized with </s> appended, as labels are)');
  addConnectionOptions(score, 'score')
    .option('--top <n>', 'most likely tokens listed at each position', integerOption('--top', 0), 3)
    .option('--entropy', 'also show the entropy of each position, in nats')
    .option('--ids', 'each TARGET is token ids separated by commas (scored as given, nothing appended), e.g. 644,4598,1')
    .option('--json', 'print the whole answer as one JSON object instead of tables')
    .option('--model <name>', "which of the server's models scores (one ListModels gives; default: the server's default model)")
    .action(async (input: string, targets: string[], flags: ScoreFlags, command: Command) => {
      checkConnectionFlags(flags, command);
      if (flags.ids) {
        try {
          targets.forEach(parseTargetIds);
        } catch (error) {
          command.error((error as Error).message);
        }
      }
      const interrupted = new AbortController();
      const onInterrupt = (): void => interrupted.abort(new Error('interrupted'));
      process.once('SIGINT', onInterrupt);
      try {
        const options = { server: flags.server, tls: tlsOf(flags), token: flags.token, input, targets, ids: flags.ids ?? false, model: flags.model };
        await runScoreCommand({ ...options, top: flags.top, entropy: flags.entropy ?? false, json: flags.json ?? false }, process.stdout, interrupted.signal);
      } catch (error) {
        // The server's message already names the field, the allowed range and the value given.
        process.stderr.write(`stepwise score: ${(error as Error).message}\n`);
        process.exitCode = 1;
      } finally {
        process.removeListener('SIGINT', onInterrupt);
      }
    });
}

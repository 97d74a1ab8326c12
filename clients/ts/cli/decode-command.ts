/**
 * `stepwise decode "TEXT"`: decodes on a running server in lockstep and prints a live table of every step
 * (token, probability, entropy, the most likely alternatives, a mark on forced tokens), then the text.
 */
import { Command, InvalidArgumentError } from 'commander';
import { addConnectionOptions, checkConnectionFlags, integerOption, tlsOf, type ConnectionFlags } from './connection-options.js';
import { runDecodeCommand } from './decode-run.js';
import { forcedTokensByStep } from './force-option.js';

function numberOption(flag: string) {
  return (value: string): number => {
    const parsed = Number(value);
    if (value.trim() === '' || !Number.isFinite(parsed)) throw new InvalidArgumentError(`\`${flag}\` must be a number; given ${value}`);
    return parsed;
  };
}

function seedOption(value: string): bigint {
  if (!/^\d+$/.test(value.trim()) || BigInt(value) >= 2n ** 64n) {
    throw new InvalidArgumentError(`\`--seed\` must be an integer in [0, 2^64); given ${value}`);
  }
  return BigInt(value);
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

interface DecodeFlags extends ConnectionFlags {
  maxNewTokens?: number;
  topP?: number;
  temperature?: number;
  seed?: bigint;
  showTop: number;
  force: string[];
  jsonl?: string;
  npy?: string;
  model?: string;
}

export function register(program: Command): void {
  const decode = program
    .command('decode')
    .description(
      'Decode TEXT on a running server, one step at a time, printing every step from its raw logits. ' +
        'Greedy unless --top-p, --temperature or --seed is given (then sampling).',
    )
    .argument('<text>', 'the encoder input, e.g. "translate English to German: The house is wonderful."');
  addConnectionOptions(decode, 'decode')
    .option('--max-new-tokens <n>', 'most tokens to generate (default: the server limit)', integerOption('--max-new-tokens', 1))
    .option('--top-p <p>', 'nucleus sampling mass, in (0, 1]', numberOption('--top-p'))
    .option('--temperature <t>', 'sampling temperature, > 0', numberOption('--temperature'))
    .option('--seed <n>', 'sampling seed, for a reproducible sample', seedOption)
    .option('--show-top <n>', 'alternatives listed per step', integerOption('--show-top', 0), 5)
    .option('--force <id@step>', 'take token ID at step STEP instead of selecting (repeatable), e.g. 644@2', collect, [])
    .option('--jsonl <file>', 'also write one JSON object per step to FILE')
    .option('--model <name>', "which of the server's models decodes (one ListModels gives; default: the server's default model)")
    .option('--npy <file>', 'also write the raw logits of every step to FILE as a float32 [steps, vocab] NumPy array')
    .action(async (text: string, flags: DecodeFlags, command: Command) => {
      let forcedTokens: Map<number, number>;
      try {
        forcedTokens = forcedTokensByStep(flags.force);
      } catch (error) {
        command.error((error as Error).message);
      }
      checkConnectionFlags(flags, command);
      const interrupted = new AbortController();
      const onInterrupt = (): void => interrupted.abort(new Error('interrupted'));
      process.once('SIGINT', onInterrupt);
      try {
        await runDecodeCommand(
          {
            server: flags.server,
            tls: tlsOf(flags),
            token: flags.token,
            text,
            maxNewTokens: flags.maxNewTokens,
            topP: flags.topP,
            temperature: flags.temperature,
            seed: flags.seed,
            showTop: flags.showTop,
            forcedTokens,
            jsonlPath: flags.jsonl,
            npyPath: flags.npy,
            model: flags.model,
          },
          process.stdout,
          process.stderr,
          interrupted.signal,
        );
      } catch (error) {
        // Not a usage error, so no help text: the server's message already names the field, the allowed
        // range and the value given.
        process.stderr.write(`stepwise decode: ${(error as Error).message}\n`);
        process.exitCode = 1;
      } finally {
        process.removeListener('SIGINT', onInterrupt);
      }
    });
}

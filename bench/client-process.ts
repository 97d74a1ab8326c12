/**
 * The benchmark's gRPC client child, in its own process so that its work (reading every step's 128 KiB
 * of logits) does not run on the server's event loop. It runs what the parent asks over IPC and answers
 * with wall times and the generated ids. Its one argument is the server's address.
 *
 * The channel is set up as the TypeScript client library sets it up (`DEFAULT_CHANNEL_OPTIONS`: a 4 MiB HTTP/2
 * window, so a 128 KiB row needs no flow-control round trip). Every stream asks for greedy selection with `min_new_tokens` = `max_new_tokens` (full length, as every
 * contender) and the default stream options: raw float32 logits at every step, unless a command asks for
 * none (`logits: 'none'`, to measure what carrying the rows costs). Answers carry the client's CPU time.
 */
import { credentials } from '@grpc/grpc-js';

import {
  DecodeMode,
  DecodeRequest,
  type DecodeResponse,
  LogitsFormat,
  SelectionMode,
  StepwiseServiceClient,
} from '../src/gen/stepwise/v1/stepwise.js';
import { DEFAULT_CHANNEL_OPTIONS } from '../clients/ts/index.js';
import { bareRoundTrips } from './bare-rows.js';
import { processCpuMs } from './cpu-time.js';
import type { ClientAnswer, ClientCommand, DecodeMode as Mode, RawLogits } from './ipc.js';

const address = process.argv[2]!;
// Configured as the TypeScript client library configures its channel (its HTTP/2 window included).
const client = new StepwiseServiceClient(address, credentials.createInsecure(), {
  ...DEFAULT_CHANNEL_OPTIONS,
  'grpc.max_receive_message_length': -1,
});

/** Streams held at their last step by `hold` (each call adds some), all stopped by `release`. */
let held: Array<{ stop(): Promise<void> }> = [];

interface Decoded {
  readonly tokens: number[];
  readonly ms: number;
}

/**
 * One `Decode` stream. LOCKSTEP accepts every step; `holdAtLastStep` leaves the last step unanswered and
 * resolves `reachedLastStep` instead, so the stream (and its decode state) stays alive.
 */
function decode(prompt: number[], newTokens: number, mode: Mode, logits: RawLogits = 'float32', holdAtLastStep = false) {
  const call = client.decode();
  const started = performance.now();
  let reachedLastStep: () => void = () => {};
  const atLastStep = new Promise<void>((resolve) => (reachedLastStep = resolve));
  const done = new Promise<Decoded>((resolve, reject) => {
    call.on('data', (response: DecodeResponse) => {
      const message = response.message;
      if (message?.$case === 'logits' && mode === 'lockstep') {
        if (holdAtLastStep && message.value.step === newTokens - 1) return reachedLastStep();
        call.write(DecodeRequest.fromPartial({ message: { $case: 'decision', value: { step: message.value.step, action: { $case: 'accept', value: {} } } } }));
      } else if (message?.$case === 'finished') {
        call.end();
        resolve({ tokens: message.value.tokenIds, ms: performance.now() - started });
      }
    });
    call.on('error', reject);
  });
  call.write(
    DecodeRequest.fromPartial({
      message: {
        $case: 'start',
        value: {
          input: { $case: 'tokenIds', value: { ids: prompt } },
          maxNewTokens: newTokens,
          minNewTokens: newTokens,
          selection: { mode: SelectionMode.SELECTION_MODE_GREEDY },
          mode: mode === 'auto' ? DecodeMode.DECODE_MODE_AUTO : DecodeMode.DECODE_MODE_LOCKSTEP,
          ...(logits === 'none' && { stream: { rawLogits: LogitsFormat.LOGITS_FORMAT_NONE } }),
        },
      },
    }),
  );
  const stop = async () => {
    call.write(DecodeRequest.fromPartial({ message: { $case: 'stop', value: {} } }));
    await done;
  };
  return { done, atLastStep, stop };
}

async function run(command: ClientCommand): Promise<ClientAnswer> {
  switch (command.kind) {
    case 'one-by-one': {
      const cpuAtStart = processCpuMs();
      const ms: number[] = [];
      const tokens: number[][] = [];
      for (const prompt of command.prompts) {
        const result = await decode(prompt, command.newTokens, command.mode, command.logits).done;
        ms.push(result.ms);
        tokens.push(result.tokens);
      }
      return { kind: 'one-by-one', ms, tokens, cpuMs: processCpuMs() - cpuAtStart };
    }
    case 'concurrent': {
      const cpuAtStart = processCpuMs();
      const started = performance.now();
      const streams = Promise.all(
        command.prompts.map(async (prompt, index) => {
          if (command.staggerMs > 0 && index > 0) await new Promise((resolve) => setTimeout(resolve, index * command.staggerMs));
          return decode(prompt, command.newTokens, 'auto', command.logits).done;
        }),
      );
      const results = await streams;
      const wallMs = performance.now() - started;
      return { kind: 'concurrent', wallMs, tokens: results.map((result) => result.tokens), cpuMs: processCpuMs() - cpuAtStart };
    }
    case 'bare-round-trips': {
      const host = address.slice(0, address.lastIndexOf(':'));
      const result = await bareRoundTrips(`${host}:${command.port}`, command.count, command.rowBytes);
      return { kind: 'bare-round-trips', ...result };
    }
    case 'hold': {
      const streams = command.prompts.map((prompt) => decode(prompt, command.newTokens, 'lockstep', 'float32', true));
      await Promise.all(streams.map((stream) => stream.atLastStep));
      held.push(...streams);
      return { kind: 'held' };
    }
    case 'release':
      await Promise.all(held.map((stream) => stream.stop()));
      held = [];
      return { kind: 'released' };
    case 'stop':
      client.close();
      return { kind: 'stopped' };
  }
}

process.on('message', (command: ClientCommand) => {
  run(command).then(
    (answer) => {
      process.send!(answer);
      if (answer.kind === 'stopped') process.disconnect();
    },
    (error: unknown) => {
      process.stderr.write(`client: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
});
process.send!({ kind: 'ready' } satisfies ClientAnswer);

/**
 * `npx tsx bench/beam-bench.ts [--reps N] [--new-tokens N] [--beams N]`: a beam search of N beams against N
 * independent greedy streams of the same input, in one run, through `stepwise serve` as composed for the
 * benchmark (the t5-small-shaped model, in a child process) and gRPC from this one. Every sequence runs to
 * full length (`min_new_tokens` = `max_new_tokens`), so both do the same number of decoder steps over N
 * sequences at the same positions: the greedy streams as batch-N runs of the scheduler, the beam search as
 * one batch-N run per step plus its own work (log-softmax and the top-2N over N × vocab, the KV caches of
 * forked beams copied, a `BeamStep` per step). Reports the median wall time of each, the ratio, and the
 * median decoder step of each (`Timings.step_ms`). Run on demand; not part of the tests.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { credentials, type ServiceError } from '@grpc/grpc-js';
import { GenerateRequest, type GenerateResponse, StepwiseServiceClient } from '../src/gen/stepwise/v1/stepwise.js';
import { HuggingFaceTextTokenizer } from '../src/runtime/index.js';
import { BENCH_MODEL_FOLDER, benchPrompts, ensureBenchModel } from './bench-model.js';
import { ask, firstAnswer, type ServerAnswer } from './ipc.js';
import { median } from './stats.js';

const log = (line: string) => process.stderr.write(`${line}\n`);

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(name);
  return at === -1 ? fallback : Number(process.argv[at + 1]);
}

interface Run {
  readonly wallMs: number;
  /** Every decoder step's time, of every stream of the run. */
  readonly stepMs: number[];
  /** Decoder runs of the server's scheduler, and the sequence steps they carried. */
  readonly decoderRuns: number;
  readonly sequenceSteps: number;
  /** CPU time of the server's serving thread. */
  readonly servingCpuMs: number;
}

/** One Generate to its end: its decoder step times. */
function generate(client: StepwiseServiceClient, start: object): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const call = client.generate(GenerateRequest.fromPartial({ start }));
    let stepMs: number[] = [];
    call.on('data', (response: GenerateResponse) => {
      if (response.message?.$case === 'finished') stepMs = response.message.value.timings?.stepMs ?? [];
    });
    call.on('error', (error: ServiceError) => reject(new Error(`Generate failed: ${error.details}`)));
    call.on('end', () => resolve(stepMs));
  });
}

async function timed(starts: readonly object[], client: StepwiseServiceClient, server: ChildProcess): Promise<Run> {
  await ask(server, { kind: 'probe-start', loopDelay: false });
  const begin = performance.now();
  const steps = await Promise.all(starts.map((start) => generate(client, start)));
  const wallMs = performance.now() - begin;
  const probe = await ask<Extract<ServerAnswer, { kind: 'probe' }>>(server, { kind: 'probe-read' });
  return {
    wallMs,
    stepMs: steps.flat(),
    decoderRuns: probe.scheduler.stepRuns,
    sequenceSteps: probe.scheduler.steps,
    servingCpuMs: probe.servingThreadCpuMs,
  };
}

async function main(): Promise<void> {
  const reps = option('--reps', 3);
  const newTokens = option('--new-tokens', 32);
  const beams = option('--beams', 4);
  await ensureBenchModel();
  const tokenizer = await HuggingFaceTextTokenizer.load(BENCH_MODEL_FOLDER);
  const [ids] = benchPrompts((text) => tokenizer.encode(text), 1, 1, 32);
  const base = { input: { $case: 'tokenIds', value: { ids } }, maxNewTokens: newTokens, minNewTokens: newTokens };
  const beamStart = { ...base, beamSearch: { numBeams: beams } };
  const greedyStarts = Array.from({ length: beams }, () => base);

  const child = fork(fileURLToPath(new URL('./server-process.ts', import.meta.url)), [JSON.stringify({ modelDir: BENCH_MODEL_FOLDER })]);
  const ready = await firstAnswer<ServerAnswer>(child);
  if (ready.kind !== 'ready') throw new Error(`the server child answered ${ready.kind}`);
  const client = new StepwiseServiceClient(`127.0.0.1:${ready.port}`, credentials.createInsecure());
  try {
    const runs = { beam: [] as Run[], greedy: [] as Run[] };
    for (let rep = 0; rep <= reps; rep++) {
      // Alternating, so that both meet the same machine; repetition 0 warms both up and is not counted.
      const beam = await timed([beamStart], client, child);
      const greedy = await timed(greedyStarts, client, child);
      log(`rep ${rep}: ${beams} beams ${beam.wallMs.toFixed(0)} ms, ${beams} greedy streams ${greedy.wallMs.toFixed(0)} ms`);
      if (rep === 0) continue;
      runs.beam.push(beam);
      runs.greedy.push(greedy);
    }
    const wall = (list: Run[]) => median(list.map((run) => run.wallMs));
    const step = (list: Run[]) => median(list.flatMap((run) => run.stepMs));
    const row = (label: string, list: Run[]) =>
      `| ${label} | ${wall(list).toFixed(1)} | ${(wall(list) / newTokens).toFixed(2)} | ${step(list).toFixed(2)} | ` +
      `${median(list.map((run) => run.decoderRuns))} | ${median(list.map((run) => run.sequenceSteps / run.decoderRuns)).toFixed(2)} | ` +
      `${median(list.map((run) => run.servingCpuMs)).toFixed(0)} |`;
    const lines = [
      `${beams} beams vs ${beams} greedy streams of one 32-token input, ${newTokens} new tokens each, median of ${reps} repetitions`,
      '| contender | wall ms | ms per token position | median decoder step ms | decoder runs | sequences per run | serving-thread CPU ms |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
      row(`beam search, ${beams} beams`, runs.beam),
      row(`${beams} greedy streams`, runs.greedy),
      `ratio (beam / greedy streams): ${(wall(runs.beam) / wall(runs.greedy)).toFixed(2)} of the medians; ` +
        `${median(runs.beam.map((run, i) => run.wallMs / runs.greedy[i]!.wallMs)).toFixed(2)} median of the paired repetitions`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    client.close();
    await ask(child, { kind: 'stop' }).catch(() => child.kill());
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`beam-bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});

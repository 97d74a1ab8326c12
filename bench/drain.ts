/**
 * How long `stepwise serve` takes to drain: N live streams (half AUTO, half LOCKSTEP whose client answers
 * every step at once), SIGTERM once every stream is past its first steps, then the time from the signal
 * to each stream's `finished`, and to the process's exit. The difference between the last two is what
 * shutdown itself costs beyond the streams' own end.
 *
 * ```sh
 * npm run bench:drain                                   # 10 streams of 256 tokens, the embedded tiny model
 * npm run bench:drain -- --streams 10 --tokens 512 --model DIR --runs 5
 * ```
 */
import { parseArgs } from 'node:util';

import { StepwiseClient } from '../clients/ts/index.js';
import { startServeChild } from './serve-child.js';

const { values: args } = parseArgs({
  options: {
    streams: { type: 'string', default: '10' },
    tokens: { type: 'string', default: '256' },
    runs: { type: 'string', default: '3' },
    model: { type: 'string' },
  },
});
const streams = Number(args.streams);
const tokens = Number(args.tokens);
const runs = Number(args.runs);

interface StreamEnd {
  readonly finished: boolean;
  /** `performance.now()` when the stream ended (finished or failed). */
  readonly at: number;
  readonly error?: string;
}

/** Runs one stream to its end; `onStep` is told of each step's arrival. */
async function runStream(client: StepwiseClient, index: number, onStep: () => void): Promise<StreamEnd> {
  const mode = index % 2 === 0 ? 'auto' : 'lockstep';
  const session = client.openDecode({ text: 'translate English to German: The house is wonderful.', maxNewTokens: tokens, minNewTokens: tokens, mode });
  try {
    for await (const event of session) {
      if (event.kind !== 'step') continue;
      onStep();
      if (event.awaitsDecision) session.accept(event.step);
    }
    return { finished: session.finished !== undefined, at: performance.now() };
  } catch (error) {
    return { finished: false, at: performance.now(), error: error instanceof Error ? error.message : String(error) };
  }
}

/** One drain: the times from SIGTERM to the last `finished` and to the exit, in ms. */
async function measureOnce(): Promise<{ lastFinishedMs: number; exitMs: number; finished: number; exitCode: number | null }> {
  const model = args.model === undefined ? [] : ['--model', args.model];
  const server = await startServeChild(['--drain-timeout', '30', '--max-streams', String(streams), ...model]);
  const clients = Array.from({ length: streams }, () => new StepwiseClient(server.address));
  const stepsSeen = new Array<number>(streams).fill(0);
  const ends = clients.map((client, index) => runStream(client, index, () => (stepsSeen[index]! += 1)));
  // Every stream live and past its first steps: the drain has real work to wait for.
  while (stepsSeen.some((seen) => seen < 4)) await new Promise((resolve) => setTimeout(resolve, 1));
  const signalled = performance.now();
  server.child.kill('SIGTERM');
  const results = await Promise.all(ends);
  const exit = await server.exited;
  for (const client of clients) client.close();
  const failed = results.find((end) => !end.finished);
  if (failed !== undefined) console.log(`a stream did not finish: ${failed.error ?? 'no finished message'}`);
  return {
    lastFinishedMs: Math.max(...results.map((end) => end.at)) - signalled,
    exitMs: exit.at - signalled,
    finished: results.filter((end) => end.finished).length,
    exitCode: exit.code,
  };
}

console.log(`drain: ${streams} live streams (half AUTO, half LOCKSTEP) of ${tokens} tokens, SIGTERM once each has 4 steps`);
console.log('run   finished   exit code   SIGTERM → last finished ms   SIGTERM → exit ms   exit after last finished ms');
for (let run = 1; run <= runs; run++) {
  const { lastFinishedMs, exitMs, finished, exitCode } = await measureOnce();
  console.log(
    `${String(run).padStart(3)}   ${`${finished}/${streams}`.padStart(8)}   ${String(exitCode).padStart(9)}   ${lastFinishedMs.toFixed(0).padStart(26)}   ${exitMs.toFixed(0).padStart(17)}   ${(exitMs - lastFinishedMs).toFixed(0).padStart(27)}`,
  );
}

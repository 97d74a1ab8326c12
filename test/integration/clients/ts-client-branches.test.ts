/**
 * The TypeScript client's branches against a live server: `fork`, a decision per branch and `drop` on the
 * session and in the lockstep helper; each branch's raw rows are those of an unbranched decode with its
 * history, and the stream ends with the last live branch's `finished`.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  StepwiseClient,
  accept,
  drop,
  force,
  fork,
  type DecideContext,
  type DecodeEvent,
  type DecodeStart,
  type Decision,
  type StepEvent,
} from '../../../clients/ts/index.js';
import { tinyModels } from '../../fixtures/models.js';
import { startTestServer, type TestServer } from '../../support/test-server.js';

const START: DecodeStart = { text: 'translate English to German: The house is wonderful.', maxNewTokens: 4 };

let server: TestServer;
let client: StepwiseClient;

beforeAll(async () => {
  server = await startTestServer({ modelDir: tinyModels.reluTied });
  client = new StepwiseClient(server.address);
});
afterEach(async () => {
  await server.settled(); // dropped branches and finished streams leave nothing behind
});
afterAll(async () => {
  client?.close();
  await server?.stop();
});

/** The raw rows of an unbranched decode that forces `first` at step 0 and accepts the rest. */
async function unbranchedRows(first: number): Promise<Float32Array[]> {
  const rows: Float32Array[] = [];
  for await (const step of client.decode(START, (event) => (event.step === 0 ? force(first) : accept()))) rows.push(step.logits!);
  return rows;
}

describe('TypeScript client branches', () => {
  it('forks at step 0, steps each branch as an unbranched decode of its history, drops one, ends with the other', async () => {
    const session = client.openDecode(START);
    const events: DecodeEvent[] = [];
    const rows = new Map<number, Float32Array[]>([[0, []], [1, []]]);
    for await (const event of session) {
      events.push(event);
      if (event.kind !== 'step' || !event.awaitsDecision) continue;
      rows.get(event.branch)!.push(event.logits!);
      if (event.step === 0) {
        rows.get(1)!.push(event.logits!); // the fork's row at step 0 is its parent's
        session.fork(0, 1);
        session.decide(0, force(9), 1);
        session.force(0, 5);
      } else if (event.step === 2 && event.branch === 1) {
        session.drop(2, 1);
      } else {
        session.accept(event.step, [], event.branch);
      }
    }
    expect(events.filter((event) => event.kind === 'forked')).toEqual([{ kind: 'forked', branch: 1, fromBranch: 0, step: 0 }]);
    const stepZeroTokens = events.flatMap((event) => (event.kind === 'token' && event.token.step === 0 ? [[event.branch, event.token.tokenId]] : []));
    expect(stepZeroTokens.sort()).toEqual([[0, 5], [1, 9]]);
    expect(rows.get(0)).toEqual(await unbranchedRows(5));
    expect(rows.get(1)).toEqual((await unbranchedRows(9)).slice(0, 3)); // dropped at step 2
    expect(events.filter((event) => event.kind === 'finished').map((event) => event.branch)).toEqual([0]);
    expect(events.at(-1)?.kind).toBe('finished');
    expect(session.finished!.tokenIds).toHaveLength(START.maxNewTokens!);
    expect(session.finished!.tokenIds[0]).toBe(5);
  });

  it('the lockstep helper asks again for both branches after a fork and keeps each branch its own tokens', async () => {
    const calls: [number, number, readonly number[]][] = [];
    const decide = (step: StepEvent, context: DecideContext): Decision => {
      calls.push([step.branch, step.step, context.tokenIds]);
      if (step.step === 0 && step.branch === 0) return calls.length === 1 ? fork(7) : force(5);
      if (step.step === 0) return force(9);
      return step.branch === 0 ? drop() : accept();
    };
    const run = client.decode(START, decide);
    const steps: [number, number, number][] = [];
    for await (const step of run) steps.push([step.branch, step.step, step.token.tokenId]);
    const { finished } = await run.result();
    expect(calls.slice(0, 3)).toEqual([[0, 0, []], [0, 0, []], [7, 0, []]]);
    expect(calls).toContainEqual([0, 1, [5]]);
    expect(calls).toContainEqual([7, 1, [9]]);
    expect(steps.filter(([branch]) => branch === 0)).toEqual([[0, 0, 5]]); // dropped at step 1
    expect(steps.filter(([branch]) => branch === 7).map(([, step]) => step)).toEqual([0, 1, 2, 3]);
    expect(finished.branch).toBe(7);
    expect(finished.tokenIds[0]).toBe(9);
  });
});

/**
 * `stepwise serve` on SIGTERM: it drains (health NOT_SERVING and new streams UNAVAILABLE at once, live
 * streams run to their end), then exits 0; streams still open when `--drain-timeout` passes end with
 * UNAVAILABLE; a second signal exits at once, with 128 + the signal's number.
 */
import { credentials, status as Status } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { StepwiseServiceClient } from '../../../src/gen/stepwise/v1/stepwise.js';
import { DecodeStream } from '../../support/decode-client.js';
import { acceptToEnd, HELD_TEXT, lockstepAwaitingStep0, stalledAuto, until } from '../../support/held-streams.js';
import { startServeProcess, type ServeProcess } from '../../support/serve-process.js';

const SHUTTING_DOWN = { code: Status.UNAVAILABLE, details: 'the server is shutting down; retry on another instance' };

let served: ServeProcess | undefined;
const clients: StepwiseServiceClient[] = [];
afterEach(() => {
  for (const client of clients.splice(0)) client.close();
  served?.close();
  served = undefined;
});

async function serve(args: readonly string[]): Promise<ServeProcess> {
  served = await startServeProcess(args);
  return served;
}

function clientOf(process: ServeProcess): StepwiseServiceClient {
  const client = new StepwiseServiceClient(process.address, credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
  clients.push(client);
  return client;
}

describe('stepwise serve on SIGTERM', () => {
  it('drains: live AUTO and LOCKSTEP streams finish, new streams get UNAVAILABLE, health NOT_SERVING, exit code 0', async () => {
    const child = await serve(['--drain-timeout', '60']);
    const lockstep = await lockstepAwaitingStep0(clientOf(child));
    const auto = await stalledAuto(clientOf(child));
    child.child.kill('SIGTERM');
    await until('health NOT_SERVING', async () => (await child.health()) === 'NOT_SERVING');
    const refused = DecodeStream.open(clientOf(child));
    refused.start({ input: HELD_TEXT });
    expect(await refused.status).toEqual(SHUTTING_DOWN);

    expect(await acceptToEnd(lockstep)).toEqual({ finished: true, status: { code: Status.OK, details: 'OK' } });
    auto.call.resume();
    const autoEnd = await auto.drain();
    expect(autoEnd.messages.at(-1)?.$case).toBe('finished');
    expect(autoEnd.status.code).toBe(Status.OK);
    expect(await child.exited).toEqual({ code: 0, signal: null });
    expect(child.log()).toContain('drained: the last stream ended');
  });

  it('streams still open when --drain-timeout passes end with UNAVAILABLE; the exit code is still 0', async () => {
    const child = await serve(['--drain-timeout', '0.5']);
    const lockstep = await lockstepAwaitingStep0(clientOf(child));
    child.child.kill('SIGTERM');
    expect(await lockstep.status).toEqual(SHUTTING_DOWN);
    expect(await child.exited).toEqual({ code: 0, signal: null });
    expect(child.log()).toContain('drain timeout passed with 1 streams open');
  });

  it('a second signal exits at once, with 128 + its number, while streams are still live', async () => {
    const child = await serve(['--drain-timeout', '600']);
    const lockstep = await lockstepAwaitingStep0(clientOf(child));
    child.child.kill('SIGTERM');
    await until('health NOT_SERVING', async () => (await child.health()) === 'NOT_SERVING');
    child.child.kill('SIGINT');
    expect(await child.exited).toEqual({ code: 128 + 2, signal: null });
    expect((await lockstep.status).code).not.toBe(Status.OK);
    expect(child.log()).toContain('SIGINT received again; exiting at once, 1 streams cut');
  });
});

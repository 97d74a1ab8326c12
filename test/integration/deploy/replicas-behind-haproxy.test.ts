/**
 * Several `stepwise serve` replicas behind HAProxy, configured by `deploy/haproxy/generate-config.mjs`: the
 * streams of one client connection are spread over every replica, and a replica sent SIGTERM leaves the
 * rotation while its live streams run to `finished`; no stream fails, before, during or after. Without a
 * balancer, a client with gRPC's `round_robin` policy over the replicas' addresses spreads its streams too
 * (what a client does with a headless Service, deploy/kubernetes/README.md).
 *
 * Which replica serves a stream is read from the replicas themselves: `stepwise_streams_open` on each one's
 * metrics port while streams are held, and each one's access lines once they ended.
 */
import { credentials, status as Status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haproxyConfig } from '../../../deploy/haproxy/generate-config.mjs';
import { StepwiseServiceClient } from '../../../src/gen/stepwise/v1/stepwise.js';
import { generateAll, type DecodeStream } from '../../support/decode-client.js';
import { startHaproxy, type Haproxy } from '../../support/haproxy.js';
import { acceptToEnd, HELD_TEXT, lockstepAwaitingStep0, until } from '../../support/held-streams.js';
import { scrapeMetrics } from '../../support/metrics-client.js';
import { startServeProcess, type ServeProcess } from '../../support/serve-process.js';

const REPLICAS = 3;
/** Longer than HAProxy's check interval (200 ms) plus its check timeout (1 s), with room for a loaded machine. */
const SHUTDOWN_DELAY_S = 3;

let replicas: ServeProcess[] = [];
let balancer: Haproxy | undefined;
let client: StepwiseServiceClient | undefined;

beforeAll(async () => {
  replicas = await Promise.all(
    Array.from({ length: REPLICAS }, () =>
      startServeProcess(['--metrics-port', '0', '--log-format', 'json', '--shutdown-delay', String(SHUTDOWN_DELAY_S), '--drain-timeout', '60']),
    ),
  );
  balancer = await startHaproxy((port, statsSocket) =>
    haproxyConfig({
      bind: `127.0.0.1:${port}`,
      replicas: replicas.map((replica) => ({ address: replica.address, metricsPort: replica.metricsPort! })),
      checkIntervalMs: 200,
      statsSocket,
      log: true,
    }),
  );
  await balancer.waitForStates(Object.fromEntries(replicas.map((_, index) => [`replica-${index + 1}`, 'UP'])));
  // One client, one HTTP/2 connection to the balancer: every spread below is HAProxy's, per stream.
  client = new StepwiseServiceClient(balancer.address, credentials.createInsecure(), { 'grpc.max_receive_message_length': -1 });
}, 120_000);

afterAll(async () => {
  client?.close();
  await balancer?.stop();
  for (const replica of replicas) replica.close();
});

/** Streams open on each replica now, by its own metrics. */
async function openStreams(): Promise<number[]> {
  return Promise.all(replicas.map(async (replica) => (await scrapeMetrics(replica.metricsPort!)).value('stepwise_streams_open') ?? 0));
}

/** Access lines of `method` each replica wrote so far, with their codes. */
function accessLines(method: string): Array<Array<{ code: string }>> {
  return replicas.map((replica) =>
    replica
      .log()
      .split('\n')
      .filter((line) => line.includes('"kind":"access"') && line.includes(`"method":"${method}"`))
      .map((line) => JSON.parse(line) as { code: string }),
  );
}

const total = (counts: readonly number[]): number => counts.reduce((sum, count) => sum + count, 0);

describe('replicas behind HAProxy', () => {
  const held: DecodeStream[] = [];
  let spread: number[] = [];

  it('spreads 30 streams of one client connection over all three replicas', async () => {
    for (let index = 0; index < 30; index++) held.push(await lockstepAwaitingStep0(client!));
    spread = await openStreams();
    console.log(`30 LOCKSTEP streams over one connection through HAProxy: ${spread.join(' / ')} on the three replicas`);
    expect(total(spread)).toBe(30);
    for (const count of spread) expect(count).toBeGreaterThanOrEqual(5);
  });

  it('without a balancer, a client with the round_robin policy over the three addresses spreads its streams too', async () => {
    const before = accessLines('Generate').map((lines) => lines.length);
    const target = `ipv4:${replicas.map((replica) => replica.address).join(',')}`;
    const balancing = new StepwiseServiceClient(target, credentials.createInsecure(), {
      'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }),
    });
    try {
      // One after another: calls started before every address is connected all go to the first one connected.
      for (let index = 0; index < 15; index++) {
        expect((await generateAll(balancing, { input: HELD_TEXT, maxNewTokens: 3 })).status.code).toBe(Status.OK);
      }
    } finally {
      balancing.close();
    }
    await until('access lines of the 15 streams', () => total(accessLines('Generate').map((lines) => lines.length)) === total(before) + 15);
    const counts = accessLines('Generate').map((lines, index) => lines.length - before[index]!);
    console.log(`15 Generate streams from a round_robin client over the three addresses: ${counts.join(' / ')}`);
    for (const count of counts) expect(count).toBeGreaterThanOrEqual(3);
  });

  it('a replica sent SIGTERM leaves the rotation, its live streams finish, new streams go to the others, none fails', async () => {
    const [leaving, ...staying] = replicas as [ServeProcess, ...ServeProcess[]];
    const generatedBefore = accessLines('Generate').map((lines) => lines.length);
    const generated = (): number[] => accessLines('Generate').map((lines, index) => lines.length - generatedBefore[index]!);
    const signalled = performance.now();
    leaving.child.kill('SIGTERM');

    // New streams from the moment of the signal: the ones HAProxy still sends to the leaving replica are served
    // (its --shutdown-delay), the rest go elsewhere.
    const duringDelay: Array<ReturnType<typeof generateAll>> = [];
    let outAfterMs: number | undefined;
    while (outAfterMs === undefined) {
      duringDelay.push(generateAll(client!, { input: HELD_TEXT, maxNewTokens: 3 }));
      if ((await balancer!.serverStates())['replica-1'] === 'DOWN') outAfterMs = performance.now() - signalled;
      else await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const delayed = await Promise.all(duringDelay);
    for (const call of delayed) expect(call.status).toEqual({ code: Status.OK, details: 'OK' });
    await until('access lines of the streams opened during the delay', () => total(generated()) === delayed.length);
    const servedDuringDelay = generated();

    // Out of rotation and past its delay (new calls there would now be refused): all go to the other two.
    await until('the shutdown delay has passed', () => performance.now() - signalled > SHUTDOWN_DELAY_S * 1000 + 200);
    const after = await Promise.all(Array.from({ length: 15 }, () => generateAll(client!, { input: HELD_TEXT, maxNewTokens: 3 })));
    for (const call of after) expect(call.status).toEqual({ code: Status.OK, details: 'OK' });
    await until('access lines of the streams opened after', () => total(generated()) === delayed.length + after.length);
    const servedAfter = generated().map((count, index) => count - servedDuringDelay[index]!);
    expect(servedAfter[0]).toBe(0);
    expect(total(servedAfter)).toBe(15);

    // The 30 held streams, the leaving replica's among them, run to their end.
    const ends = await Promise.all(held.map((stream) => acceptToEnd(stream)));
    for (const end of ends) expect(end).toEqual({ finished: true, status: { code: Status.OK, details: 'OK' } });
    expect(await leaving.exited).toEqual({ code: 0, signal: null });
    const exitedAfterMs = performance.now() - signalled;
    expect(leaving.log()).toContain('drained: the last stream ended');
    const decodes = accessLines('Decode');
    expect(decodes.map((lines) => lines.length)).toEqual(spread);
    for (const lines of decodes) for (const line of lines) expect(line.code).toBe('OK');
    for (const replica of staying) expect(await replica.health()).toBe('SERVING');

    console.log(
      `SIGTERM to replica-1 with ${spread[0]} live streams: out of HAProxy's rotation after ${Math.round(outAfterMs)} ms; ` +
        `${delayed.length} streams opened until then went ${servedDuringDelay.join(' / ')}, 15 opened after went ${servedAfter.join(' / ')}; ` +
        `its ${spread[0]} live streams finished and it exited 0 after ${Math.round(exitedAfterMs)} ms; ` +
        `all ${30 + delayed.length + 15} streams OK`,
    );
  });
});

/**
 * A client process for tests that kill their client: opens `count` AUTO streams to `address`, prints
 * `ready` on stdout once every stream has received a token, then keeps reading until it is killed.
 *
 * ```sh
 * node --import tsx test/support/storm-client.ts 127.0.0.1:50051 100
 * ```
 */
import { credentials } from '@grpc/grpc-js';
import { DecodeMode, StepwiseServiceClient } from '../../src/gen/stepwise/v1/stepwise.js';
import { DecodeStream } from './decode-client.js';

const [address, countText] = process.argv.slice(2);
const count = Number(countText);
// A few channels, as separate client processes or pods would use: each its own HTTP/2 connection.
const clients = Array.from({ length: 4 }, () => new StepwiseServiceClient(address!, credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }));

await Promise.all(
  Array.from({ length: count }, async (_, index) => {
    const stream = DecodeStream.open(clients[index % clients.length]!);
    stream.start({
      input: { $case: 'text', value: 'the small green house' },
      mode: DecodeMode.DECODE_MODE_AUTO,
      maxNewTokens: 500,
      minNewTokens: 500,
      stream: { topNAlternatives: 4 },
    });
    while ((await stream.next())?.message?.$case !== 'token');
    void stream.drain();
  }),
);
process.stdout.write('ready\n');

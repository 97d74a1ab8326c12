/**
 * The transport alone: a bare grpc-js bidirectional stream that answers every small request with one
 * logits-sized message (no Stepwise code on either side). Its round trips tell what carrying a row over
 * gRPC on 127.0.0.1 costs this machine, in wall time and in CPU at each end, measured in the same run as
 * the contenders. Messages are passed as ready bytes (identity serializers), as Stepwise's encoded
 * envelopes are, and the channel is configured as the TypeScript client configures its own.
 */
import {
  credentials,
  makeGenericClientConstructor,
  Server,
  ServerCredentials,
  type ChannelOptions,
  type ClientDuplexStream,
  type ServerDuplexStream,
  type ServiceDefinition,
} from '@grpc/grpc-js';

import { DEFAULT_CHANNEL_OPTIONS } from '../clients/ts/index.js';
import { processCpuMs } from './cpu-time.js';

const identity = (bytes: Buffer) => bytes;

const BARE_ROWS: ServiceDefinition = {
  rows: {
    path: '/bench.BareRows/Rows',
    requestStream: true,
    responseStream: true,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

/** Starts the bare server on 127.0.0.1; each request (the row's size, uint32 LE) is answered with a row. */
export async function startBareRowServer(): Promise<{ port: number; stop(): void }> {
  const server = new Server({ 'grpc.max_send_message_length': -1 });
  const rows = new Map<number, Buffer>();
  server.addService(BARE_ROWS, {
    rows: (call: ServerDuplexStream<Buffer, Buffer>) => {
      call.on('data', (request: Buffer) => {
        const bytes = request.readUInt32LE(0);
        let row = rows.get(bytes);
        if (row === undefined) rows.set(bytes, (row = Buffer.alloc(bytes, 0x3f)));
        call.write(row);
      });
      call.on('end', () => call.end());
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
  );
  return { port, stop: () => server.forceShutdown() };
}

export interface BareRoundTrips {
  /** Wall time of all round trips, from the first request to the last row received. */
  readonly wallMs: number;
  /** CPU time of the client process meanwhile (every thread). */
  readonly clientCpuMs: number;
}

/** `count` round trips of one request and one `rowBytes` row each, one after another, after 20 unmeasured. */
export async function bareRoundTrips(address: string, count: number, rowBytes: number): Promise<BareRoundTrips> {
  const options: ChannelOptions = { ...DEFAULT_CHANNEL_OPTIONS, 'grpc.max_receive_message_length': -1 };
  const Client = makeGenericClientConstructor(BARE_ROWS, 'BareRows');
  const client = new Client(address, credentials.createInsecure(), options) as unknown as {
    rows(): ClientDuplexStream<Buffer, Buffer>;
    close(): void;
  };
  const call = client.rows();
  const request = Buffer.alloc(4);
  request.writeUInt32LE(rowBytes, 0);
  const warmUp = 20;
  let received = 0;
  let started = 0;
  let cpuAtStart = 0;
  try {
    return await new Promise<BareRoundTrips>((resolve, reject) => {
      call.on('error', reject);
      call.on('data', (row: Buffer) => {
        if (row.byteLength !== rowBytes) return reject(new Error(`a bare row of ${row.byteLength} bytes, not ${rowBytes}`));
        received += 1;
        if (received === warmUp) {
          started = performance.now();
          cpuAtStart = processCpuMs();
        }
        if (received === warmUp + count) {
          resolve({ wallMs: performance.now() - started, clientCpuMs: processCpuMs() - cpuAtStart });
          return;
        }
        call.write(request);
      });
      call.write(request);
    });
  } finally {
    call.end();
    client.close();
  }
}

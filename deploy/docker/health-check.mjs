#!/usr/bin/env node
/**
 * The container's HEALTHCHECK: asks the server's gRPC health service (`grpc.health.v1.Health/Check`, the
 * whole server) and exits 0 when it says SERVING, 1 otherwise (NOT_SERVING while loading, warming up,
 * restarting its model thread or shutting down; no answer within the deadline). Plain Node and the
 * server's own dependencies: no grpc_health_probe binary in the image.
 *
 * ```sh
 * node deploy/docker/health-check.mjs                      # 127.0.0.1:$STEPWISE_PORT (default 50051)
 * node deploy/docker/health-check.mjs 127.0.0.1:50052
 * ```
 *
 * It speaks plaintext; a server started with `--tls-cert` is better checked on `/readyz` of its metrics port.
 */
import { credentials, makeGenericClientConstructor } from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';

const DEADLINE_MS = 2_000;

const address = process.argv[2] ?? `127.0.0.1:${process.env.STEPWISE_PORT ?? '50051'}`;
const Health = makeGenericClientConstructor(healthService, 'Health');
const client = new Health(address, credentials.createInsecure());
client.check({ service: '' }, { deadline: Date.now() + DEADLINE_MS }, (error, response) => {
  client.close();
  if (error) {
    process.stderr.write(`health check of ${address}: ${error.details || error.message}\n`);
    process.exit(1);
  }
  process.stdout.write(`${address}: ${response.status}\n`);
  process.exit(response.status === 'SERVING' ? 0 : 1);
});

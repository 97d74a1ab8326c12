/**
 * The HTTP side of a server, for Prometheus and for probes and load balancers that cannot speak gRPC
 * health: `GET /metrics` (the Prometheus text format), `/healthz` (200 while the process answers) and
 * `/readyz` (200 while gRPC health reports SERVING, else 503: warming up, the model thread restarting,
 * shutting down). Anything else is 404.
 *
 * ```ts
 * const endpoint = await startMetricsEndpoint({ host: '127.0.0.1', port: 9464, registry, ready: () => server.serving });
 * // curl http://127.0.0.1:9464/metrics
 * await endpoint.close();
 * ```
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from './logger.js';

export interface MetricsEndpointOptions {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly registry: Registry;
  /** Whether the server serves now (gRPC health SERVING). */
  readonly ready: () => boolean;
  readonly logger?: Logger;
}

export interface MetricsEndpoint {
  /** The bound port. */
  readonly port: number;
  /** Stops listening and closes open connections; idempotent. */
  close(): Promise<void>;
}

export async function startMetricsEndpoint(options: MetricsEndpointOptions): Promise<MetricsEndpoint> {
  const server = createServer((request, response) => {
    answer(request, response, options).catch((error: unknown) => {
      options.logger?.error('the metrics endpoint could not answer', error, { path: request.url });
      if (!response.headersSent) response.writeHead(500);
      response.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  let closing: Promise<void> | undefined;
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      })),
  };
}

async function answer(request: IncomingMessage, response: ServerResponse, options: MetricsEndpointOptions): Promise<void> {
  const path = (request.url ?? '/').split('?')[0];
  if (request.method !== 'GET' && request.method !== 'HEAD') return reply(response, 405, 'only GET and HEAD\n');
  switch (path) {
    case '/metrics': {
      const text = await options.registry.metrics();
      return reply(response, 200, text, options.registry.contentType);
    }
    case '/healthz':
      return reply(response, 200, 'ok\n');
    case '/readyz':
      return options.ready() ? reply(response, 200, 'ready\n') : reply(response, 503, 'not ready\n');
    default:
      return reply(response, 404, 'not found; try /metrics, /healthz or /readyz\n');
  }
}

function reply(response: ServerResponse, status: number, body: string, contentType = 'text/plain; charset=utf-8'): void {
  response.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store' });
  response.end(body);
}

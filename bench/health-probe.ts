/**
 * Health checks against the server while it decodes, from the benchmark's parent process: neither the
 * server nor the client that drives the streams, so the latency measured is the server's alone.
 */
import { credentials, makeClientConstructor, type ServiceError } from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';

interface HealthClient {
  check(request: { service: string }, callback: (error: ServiceError | null) => void): void;
  close(): void;
}

export class HealthProbe {
  private readonly client: HealthClient;

  constructor(address: string) {
    const Client = makeClientConstructor(healthService, 'grpc.health.v1.Health');
    this.client = new Client(address, credentials.createInsecure()) as unknown as HealthClient;
  }

  /** One `grpc.health.v1.Health/Check` round trip, in milliseconds. */
  check(): Promise<number> {
    const started = performance.now();
    return new Promise((resolve, reject) =>
      this.client.check({ service: '' }, (error) => (error ? reject(error) : resolve(performance.now() - started))),
    );
  }

  /** Checks every `everyMs` until `until` settles; returns each round trip's duration. */
  async pollWhile(until: Promise<unknown>, everyMs: number): Promise<number[]> {
    const latencies: number[] = [];
    let finished = false;
    void until.finally(() => (finished = true));
    while (!finished) {
      latencies.push(await this.check());
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
    return latencies;
  }

  close(): void {
    this.client.close();
  }
}

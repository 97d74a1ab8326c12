/**
 * `deploy/kubernetes/`: every document parses, the Deployment's container arguments are options `stepwise
 * serve` accepts (read by the server's own option table), its probes and ports name the ports those
 * options give, its grace period outlasts the shutdown delay plus the drain timeout, and its memory is sized
 * from the benchmark's figures for the number and length of streams the flags allow.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { addOptions, resolveOptions } from '../../../src/cli/option-table.js';
import { SERVE_OPTIONS, type ServeSettings } from '../../../src/cli/serve-options.js';
import { DEFAULT_SERVER_LIMITS } from '../../../src/server/server-limits.js';

const FOLDER = 'deploy/kubernetes';

/** Measured by `npm run bench` on the t5-small-shaped model (bench/README.md). */
const T5_SMALL = {
  idleRssMiB: 760,
  /** RSS per live stream at 64 decoder + 32 encoder positions, and its KV cache there. */
  rssPerStreamMiB: 4.06,
  kvCacheMiBAtMeasure: 2.25,
  /** 6 layers × (K, V) × 8 heads × 64 × 4 bytes, per decoder or encoder position. */
  kvKiBPerPosition: 24,
};

type Manifest = Record<string, any>;

const manifests: Manifest[] = readdirSync(FOLDER)
  .filter((name) => name.endsWith('.yaml'))
  .flatMap((name) =>
    parseAllDocuments(readFileSync(join(FOLDER, name), 'utf8')).map((document) => {
      if (document.errors.length > 0) throw new Error(`${name}: ${document.errors.map((error) => error.message).join('; ')}`);
      return document.toJS() as Manifest;
    }),
  );
const deployment = manifests.find((manifest) => manifest.kind === 'Deployment')!;
const pod = deployment?.spec.template.spec;
const container = pod?.containers[0];

/** The container's arguments and environment as `stepwise serve` reads them. */
async function serveSettings(): Promise<ServeSettings> {
  const command = new Command('serve').exitOverride();
  addOptions(command, SERVE_OPTIONS);
  command.parse(container.args as string[], { from: 'user' });
  const env = Object.fromEntries((container.env ?? []).map(({ name, value }: { name: string; value: string }) => [name, value]));
  return resolveOptions(SERVE_OPTIONS, command.opts(), env, undefined);
}

/** A Kubernetes memory quantity in MiB. */
function mebibytes(quantity: string): number {
  const match = /^(\d+)(Mi|Gi)$/.exec(quantity);
  if (!match) throw new Error(`unexpected memory quantity ${quantity}`);
  return Number(match[1]) * (match[2] === 'Gi' ? 1024 : 1);
}

describe('deploy/kubernetes', () => {
  it('holds a Deployment and a ClusterIP and a headless Service, each with its required fields', () => {
    for (const manifest of manifests) {
      expect(manifest.apiVersion, manifest.kind).toMatch(/^(v1|apps\/v1)$/);
      expect(typeof manifest.metadata?.name).toBe('string');
    }
    expect(deployment).toMatchObject({ apiVersion: 'apps/v1', kind: 'Deployment' });
    expect(deployment.spec.replicas).toBeGreaterThanOrEqual(2);
    expect(deployment.spec.template.metadata.labels).toMatchObject(deployment.spec.selector.matchLabels);
    expect(container.image).toMatch(/stepwise/);
    const services = manifests.filter((manifest) => manifest.kind === 'Service');
    expect(services.map((service) => service.metadata.name).sort()).toEqual(['stepwise', 'stepwise-headless']);
    for (const service of services) expect(deployment.spec.template.metadata.labels).toMatchObject(service.spec.selector);
    expect(services.find((service) => service.metadata.name === 'stepwise-headless')!.spec.clusterIP).toBe('None');
    const containerPorts = new Set(container.ports.map((port: { name: string }) => port.name));
    for (const service of services) for (const port of service.spec.ports) expect(containerPorts).toContain(port.targetPort);
  });

  it("passes the container only options stepwise serve accepts, with values it accepts", async () => {
    const settings = await serveSettings();
    expect(settings.host).toBe('0.0.0.0');
    expect(settings.model).toHaveLength(1);
    expect(pod.volumes.length).toBeGreaterThan(0);
    const mounted = container.volumeMounts.map((mount: { mountPath: string }) => mount.mountPath);
    expect(mounted.some((path: string) => settings.model[0]!.dir.startsWith(`${path}/`))).toBe(true);
  });

  it('probes gRPC health on the port --port gives; the container ports are --port and --metrics-port', async () => {
    const settings = await serveSettings();
    const ports = Object.fromEntries(container.ports.map(({ name, containerPort }: { name: string; containerPort: number }) => [name, containerPort]));
    expect(ports).toEqual({ grpc: settings.port, metrics: settings.metricsPort });
    for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
      expect(container[probe], probe).toMatchObject({ grpc: { port: settings.port } });
    }
    expect(deployment.spec.template.metadata.annotations['prometheus.io/port']).toBe(String(settings.metricsPort));
  });

  it('gives a pod more time to stop than its shutdown delay and drain timeout together', async () => {
    const settings = await serveSettings();
    expect(settings.shutdownDelay).toBeGreaterThan(0);
    expect(pod.terminationGracePeriodSeconds * 1000).toBeGreaterThan(settings.shutdownDelay + settings.drainTimeout);
  });

  it('requests memory for the model and --max-streams streams as measured, and limits it at every stream at its longest', async () => {
    const settings = await serveSettings();
    const streams = settings.maxStreams;
    const positions = (settings.maxInputTokens ?? DEFAULT_SERVER_LIMITS.maxInputTokens) + settings.maxNewTokens;
    const besidesKvCache = T5_SMALL.rssPerStreamMiB - T5_SMALL.kvCacheMiBAtMeasure;
    const longest = (positions * T5_SMALL.kvKiBPerPosition) / 1024 + besidesKvCache;
    const { requests, limits } = container.resources;
    expect(mebibytes(requests.memory)).toBeGreaterThanOrEqual(T5_SMALL.idleRssMiB + streams * T5_SMALL.rssPerStreamMiB);
    expect(mebibytes(limits.memory)).toBeGreaterThanOrEqual(T5_SMALL.idleRssMiB + streams * longest);
    expect(Number(requests.cpu)).toBe(settings.threads);
  });

  it('runs as a non-root user on a read-only file system', () => {
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
    expect(container.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
  });
});

/**
 * Reads a server's HTTP endpoint (`/metrics`, `/healthz`, `/readyz`) as Prometheus or a probe would.
 *
 * ```ts
 * const scrape = await scrapeMetrics(server.app.metricsPort!);
 * scrape.value('stepwise_rpcs_total', { method: 'Decode', code: 'OK' });   // 3
 * ```
 */

/** One scrape of `/metrics`, parsed. */
export interface Scrape {
  readonly text: string;
  /** The sample's value for exactly these labels (none: the unlabelled sample); undefined when absent. */
  value(name: string, labels?: Readonly<Record<string, string>>): number | undefined;
  /** `# TYPE` of a metric family. */
  type(name: string): string | undefined;
}

export async function scrapeMetrics(port: number): Promise<Scrape> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  if (response.status !== 200) throw new Error(`/metrics answered ${response.status}`);
  return parseMetrics(await response.text());
}

/** The HTTP status of `GET path`. */
export async function probe(port: number, path: string): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`);
  await response.arrayBuffer();
  return response.status;
}

export function parseMetrics(text: string): Scrape {
  const samples = new Map<string, number>();
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type !== null) types.set(type[1]!, type[2]!);
    if (line === '' || line.startsWith('#')) continue;
    const sample = /^([a-zA-Z_:][\w:]*)(\{.*\})? (\S+)$/.exec(line);
    if (sample === null) throw new Error(`not a Prometheus sample line: ${line}`);
    samples.set(key(sample[1]!, parseLabels(sample[2] ?? '')), Number(sample[3]));
  }
  return {
    text,
    value: (name, labels = {}) => samples.get(key(name, labels)),
    type: (name) => types.get(name),
  };
}

function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const match of text.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[match[1]!] = match[2]!;
  return labels;
}

function key(name: string, labels: Readonly<Record<string, string>>): string {
  const sorted = Object.keys(labels)
    .sort()
    .map((label) => `${label}=${labels[label]}`);
  return `${name}{${sorted.join(',')}}`;
}

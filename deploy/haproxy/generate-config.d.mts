/** Types of `generate-config.mjs` (plain JavaScript, so that it runs with Node alone). */

export interface Replica {
  /** `host:port` of its gRPC port. */
  readonly address: string;
  /** The port of its `/readyz`. */
  readonly metricsPort: number;
}

export interface HaproxyOptions {
  readonly replicas: readonly Replica[];
  /** The address clients connect to, `HOST:PORT` or `:PORT` (every address). */
  readonly bind?: string | undefined;
  /** How often each replica's `/readyz` is read. */
  readonly checkIntervalMs?: number | undefined;
  /** How long a check may take before it counts as failed. */
  readonly checkTimeoutMs?: number | undefined;
  /** How long a stream may stay silent before HAProxy cuts it. */
  readonly streamIdleTimeoutS?: number | undefined;
  /** A Unix socket for HAProxy's runtime API (`show stat`, `disable server`). */
  readonly statsSocket?: string | undefined;
  /** Log one line per stream (with the replica that served it) to stdout. */
  readonly log?: boolean | undefined;
}

export declare const HAPROXY_DEFAULTS: {
  readonly bind: string;
  readonly metricsPort: number;
  readonly checkIntervalMs: number;
  readonly checkTimeoutMs: number;
  readonly streamIdleTimeoutS: number;
};

export declare function parseReplica(text: string, metricsPort: number): Replica;
/** The configuration text; `command`, the command line that wrote it, goes into its header. */
export declare function haproxyConfig(options: HaproxyOptions, command?: string): string;
/** The configuration text for the command line's arguments (what the script prints). */
export declare function main(args: readonly string[]): string;
/** The shortest `stepwise serve --shutdown-delay` that outlasts HAProxy's notice of a replica leaving, in whole seconds. */
export declare function recommendedShutdownDelayS(checks: { readonly checkIntervalMs: number; readonly checkTimeoutMs: number }): number;

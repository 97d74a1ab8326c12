/**
 * Where the `.proto` contract lives at run time. The server reads it for reflection (a
 * `@grpc/proto-loader` definition with the field names exactly as written in the proto). The module runs
 * from `src/server/` under tsx/vitest and from `dist/src/server/` once built, so the repository root is
 * found by walking up to the folder that holds `proto/stepwise/v1/stepwise.proto`.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The contract's path relative to the proto root (also its name in reflection). */
export const STEPWISE_PROTO_FILE = 'stepwise/v1/stepwise.proto';

/** The fully qualified name of our service. */
export const STEPWISE_SERVICE_NAME = 'stepwise.v1.StepwiseService';

/** The `proto/` folder of the installation running this module. */
export function locateProtoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'proto');
    if (existsSync(join(candidate, STEPWISE_PROTO_FILE))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) {
      throw new Error(`cannot find proto/${STEPWISE_PROTO_FILE} above ${fileURLToPath(import.meta.url)}`);
    }
    dir = parent;
  }
}

/**
 * The system Python (`/usr/bin/python3`) that runs the Python client in tests, and the check that it has
 * Debian's python3-grpcio, python3-grpc-tools, python3-numpy and python3-protobuf (`npm test` installs them first: scripts/ensure-python-packages.sh).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execute = promisify(execFile);

export const SYSTEM_PYTHON = '/usr/bin/python3';
const DEBIAN_PACKAGES = 'python3-grpcio python3-grpc-tools python3-numpy python3-protobuf';

export interface PythonOutcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the system Python (`env` added to this process's); never rejects: a failure is an outcome with a non-zero code. */
export async function runPython(
  args: readonly string[],
  options: { cwd?: string; server?: string; env?: Readonly<Record<string, string>> } = {},
): Promise<PythonOutcome> {
  try {
    const { stdout, stderr } = await execute(SYSTEM_PYTHON, args, {
      cwd: options.cwd ?? '.',
      env: { ...process.env, STEPWISE_SERVER: options.server ?? '', ...options.env },
      timeout: 240_000,
      maxBuffer: 16 << 20,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number | string; stdout?: string; stderr?: string; message: string };
    return {
      code: typeof failed.code === 'number' ? failed.code : -1,
      stdout: failed.stdout ?? '',
      stderr: failed.stderr || failed.message,
    };
  }
}

/** Throws, naming the packages to install, when the system Python cannot run the client. */
export async function requirePythonPackages(): Promise<void> {
  const probe = await runPython(['-c', 'import grpc, grpc_tools.protoc, numpy, google.protobuf']);
  if (probe.code !== 0) {
    throw new Error(
      `${SYSTEM_PYTHON} cannot import grpc, grpc_tools, numpy and google.protobuf, which the Python client needs; ` +
        `install the Debian packages: apt-get update && apt-get install -y ${DEBIAN_PACKAGES}\n${probe.stderr}`,
    );
  }
}

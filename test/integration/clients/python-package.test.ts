/**
 * The Python client as a package, as another project gets it: `pip install` of `clients/python` into a
 * virtual environment (`--system-site-packages`, so that Debian's grpcio, protobuf, numpy and pytest serve;
 * offline: `--no-deps --no-build-isolation --no-index`), then, from folders outside the repository, an
 * example run against a live server and a pytest session that uses the package's `stepwise_server` fixture
 * (loaded through its `pytest11` entry point), which starts `stepwise serve --ready-file` and stops it.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tinyModels } from '../../fixtures/models.js';
import { startTestServer, type TestServer } from '../../support/test-server.js';
import { SYSTEM_PYTHON, requirePythonPackages } from './system-python.js';

const execute = promisify(execFile);
const root = process.cwd();
const scratch = mkdtempSync(join(tmpdir(), 'stepwise-python-package-'));
const venv = join(scratch, 'venv');
const venvPython = join(venv, 'bin', 'python');

/**
 * `stepwise serve` from this checkout's sources, runnable from any folder: tsx by its absolute URL, and the
 * repository's tsconfig (the server's decorators need its settings).
 */
const SERVE_COMMAND = `'${process.execPath}' --import '${pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href}' '${join(root, 'src', 'cli.ts')}' serve`;
const SERVE_ENV = { STEPWISE_SERVE_COMMAND: SERVE_COMMAND, TSX_TSCONFIG_PATH: join(root, 'tsconfig.json') };

interface Outcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to its end; never rejects (a failure is an outcome with a non-zero code). */
async function run(command: string, args: readonly string[], cwd: string, env: Record<string, string> = {}): Promise<Outcome> {
  try {
    const { stdout, stderr } = await execute(command, args, { cwd, env: { ...process.env, ...env }, timeout: 240_000, maxBuffer: 16 << 20 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number | string; stdout?: string; stderr?: string; message: string };
    return { code: typeof failed.code === 'number' ? failed.code : -1, stdout: failed.stdout ?? '', stderr: failed.stderr || failed.message };
  }
}

/** Whether process `pid` still runs. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

let server: TestServer;

/** The fenced Python blocks of clients/README.md, in order. */
function pythonBlocks(): string[] {
  const readme = readFileSync(join(root, 'clients', 'README.md'), 'utf8');
  return [...readme.matchAll(/^```python\n([\s\S]*?)^```$/gm)].map((match) => match[1]!);
}

beforeAll(async () => {
  await requirePythonPackages();
  const pytest = await run(SYSTEM_PYTHON, ['-c', 'import pytest'], scratch);
  if (pytest.code !== 0) throw new Error(`${SYSTEM_PYTHON} has no pytest; install the Debian package: apt-get install -y python3-pytest`);
  server = await startTestServer({ modelDir: tinyModels.reluTied });
  // The package's files alone (what a source distribution holds), so that pip's build leaves the checkout clean.
  const source = join(scratch, 'source');
  mkdirSync(source);
  for (const entry of ['pyproject.toml', 'README.md', 'stepwise_client']) {
    cpSync(join(root, 'clients', 'python', entry), join(source, entry), { recursive: true, filter: (path) => !path.includes('__pycache__') });
  }
  // Without pip of its own: Debian's pip, visible through the system site-packages, installs into it.
  const created = await run(SYSTEM_PYTHON, ['-m', 'venv', '--system-site-packages', '--without-pip', venv], scratch);
  if (created.code !== 0) throw new Error(`python3 -m venv failed:\n${created.stderr}`);
  const installed = await run(venvPython, ['-m', 'pip', 'install', '--no-deps', '--no-build-isolation', '--no-index', source], scratch);
  if (installed.code !== 0) throw new Error(`pip install clients/python failed:\n${installed.stdout}\n${installed.stderr}`);
}, 300_000);

afterAll(async () => {
  rmSync(scratch, { recursive: true, force: true });
  await server?.stop();
});

describe('the stepwise-client Python package', () => {
  it("installs into the virtual environment and imports from there, with its generated modules and the pytest entry point", async () => {
    const code = [
      'import importlib.metadata as m, stepwise_client',
      'print(stepwise_client.__file__)',
      "print([e.value for e in m.entry_points(group='pytest11') if e.name == 'stepwise_client'])",
    ].join('\n');
    const outcome = await run(venvPython, ['-c', code], scratch);
    expect(outcome.code, outcome.stderr).toBe(0);
    const [file, entryPoints] = outcome.stdout.trim().split('\n');
    expect(file).toMatch(new RegExp(`^${venv}/lib/python3\\.\\d+/site-packages/stepwise_client/__init__\\.py$`));
    expect(entryPoints).toBe("['stepwise_client.pytest_plugin']");
    const packaged = readdirSync(join(file!, '..', '_gen')).filter((name) => name.endsWith('.py')).sort();
    expect(packaged).toEqual(['__init__.py', 'stepwise_pb2.py', 'stepwise_pb2_grpc.py']);
  });

  it('runs an example from a folder outside the repository against a live server', async () => {
    const examples = join(scratch, 'elsewhere', 'examples');
    mkdirSync(examples, { recursive: true });
    for (const file of ['_common.py', 'uncertainty.py']) cpSync(join(root, 'clients', 'python', 'examples', file), join(examples, file));
    const outcome = await run(venvPython, ['uncertainty.py', '--server', server.address, '--max-new-tokens', '3'], examples);
    expect(outcome.code, outcome.stderr).toBe(0);
    expect(outcome.stdout).toMatch(/^ +2 +'.*' +\d\.\d{4} +\d+\.\d{4} +\d\.\d{4}$/m);
    expect(outcome.stdout).toMatch(/mean entropy: \d+\.\d{4} nats over 3 steps/);
  });

  it("its pytest fixture, as the README uses it, starts stepwise serve (ready file) for the session and stops it with SIGTERM", async () => {
    const project = join(scratch, 'elsewhere', 'project');
    mkdirSync(project, { recursive: true });
    const pidFile = join(project, 'server.pid');
    // clients/README.md's pytest test and its conftest.py (its model folder replaced by the test's).
    const [readmeTest, readmeConftest] = pythonBlocks().filter((block) => /^# (test_translation|conftest)\.py$/m.test(block));
    expect(readmeConftest).toContain('"/models/t5-small-onnx"');
    writeFileSync(join(project, 'conftest.py'), readmeConftest!.replace('"/models/t5-small-onnx"', JSON.stringify(tinyModels.reluTied)));
    writeFileSync(join(project, 'test_translation.py'), readmeTest!);
    writeFileSync(
      join(project, 'test_server_process.py'),
      [
        'from pathlib import Path',
        'from stepwise_client import Client',
        '',
        'def test_the_process_fixture_names_the_same_server(stepwise_server, stepwise_server_process):',
        '    assert stepwise_server == stepwise_server_process.address == f"127.0.0.1:{stepwise_server_process.port}"',
        '    with Client(stepwise_server) as client:',
        '        assert client.get_model_info().name == "tiny-relu-tied"',
        `    Path(${JSON.stringify(pidFile)}).write_text(f"{stepwise_server_process.pid} {stepwise_server}")`,
        '',
      ].join('\n'),
    );
    const outcome = await run(venvPython, ['-m', 'pytest', '-q', '-p', 'no:cacheprovider'], project, SERVE_ENV);
    expect(outcome.code, `${outcome.stdout}\n${outcome.stderr}`).toBe(0);
    expect(outcome.stdout).toMatch(/\b2 passed/);
    const [pid, address] = readFileSync(pidFile, 'utf8').split(' ');
    expect(address).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(alive(Number(pid))).toBe(false); // stopped when the session ended
  });
});

/**
 * `deploy/haproxy/generate-config.mjs`: the configuration it writes is one HAProxy accepts, the committed
 * example is its current output, and replicas are read as documented.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { haproxyConfig, main, parseReplica, recommendedShutdownDelayS } from '../../../deploy/haproxy/generate-config.mjs';

const scratch = mkdtempSync(join(tmpdir(), 'stepwise-haproxy-config-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** `haproxy -c`: HAProxy's own check of a configuration file. */
function haproxyCheck(config: string): { status: number | null; output: string } {
  const path = join(scratch, 'check.cfg');
  writeFileSync(path, config);
  const result = spawnSync('haproxy', ['-c', '-f', path], { encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe('the HAProxy configuration generator', () => {
  it('writes a configuration HAProxy accepts, with one HTTP/2 server per replica checked on its /readyz', () => {
    const config = haproxyConfig({
      bind: '127.0.0.1:50051',
      replicas: [parseReplica('127.0.0.1:50061/9561', 9464), parseReplica('127.0.0.1:50062', 9464)],
      statsSocket: join(scratch, 'runtime.sock'),
      log: true,
    });
    expect(haproxyCheck(config)).toMatchObject({ status: 0 });
    expect(config).toContain('    bind 127.0.0.1:50051 proto h2\n');
    expect(config).toContain('    option httpchk GET /readyz\n');
    expect(config).toContain('    server replica-1 127.0.0.1:50061 proto h2 check check-proto h1 port 9561\n');
    expect(config).toContain('    server replica-2 127.0.0.1:50062 proto h2 check check-proto h1 port 9464\n');
  });

  it('the committed deploy/haproxy/haproxy.cfg is the output of the command in its header', () => {
    const committed = readFileSync('deploy/haproxy/haproxy.cfg', 'utf8');
    const command = committed.split('\n')[2]!;
    expect(command).toMatch(/^# node deploy\/haproxy\/generate-config\.mjs /);
    const args = command.replace(/^# node deploy\/haproxy\/generate-config\.mjs /, '').split(' ');
    expect(main(args)).toBe(committed);
  });

  it('recommends a shutdown delay longer than the time HAProxy takes to notice a replica leaving', () => {
    expect(recommendedShutdownDelayS({ checkIntervalMs: 1000, checkTimeoutMs: 1000 })).toBe(3);
    expect(recommendedShutdownDelayS({ checkIntervalMs: 200, checkTimeoutMs: 1000 })).toBe(3);
    expect(haproxyConfig({ replicas: [parseReplica('10.0.0.1:50051', 9464)] })).toContain('`stepwise serve --shutdown-delay 3` or more');
  });

  it('reads replicas as HOST:PORT or HOST:PORT/METRICS_PORT, IPv6 in brackets, and refuses anything else', () => {
    expect(parseReplica('stepwise-1:50051', 9464)).toEqual({ address: 'stepwise-1:50051', metricsPort: 9464 });
    expect(parseReplica('[::1]:50051/9000', 9464)).toEqual({ address: '[::1]:50051', metricsPort: 9000 });
    expect(() => parseReplica('stepwise-1', 9464)).toThrow('--replica must be HOST:PORT or HOST:PORT/METRICS_PORT; given "stepwise-1"');
    expect(() => main([])).toThrow('at least one --replica is needed');
  });

  it('as a command, a bad argument is one line on stderr and exit code 1', () => {
    const result = spawnSync(process.execPath, ['deploy/haproxy/generate-config.mjs', '--replica', 'nope'], { encoding: 'utf8' });
    expect(result.status).toBe(1);
    expect(result.stderr).toBe('generate-config: --replica must be HOST:PORT or HOST:PORT/METRICS_PORT; given "nope"\n');
  });
});

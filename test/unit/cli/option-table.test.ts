/**
 * Options declared once and read from flags, a config file (JSON or YAML) and the environment: a flag wins
 * over the file, the file over the environment, the environment over the default; every bad value is
 * refused naming where it came from.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { addOptions, option, OptionError, read, resolveOptions } from '../../../src/cli/option-table.js';
import { SERVE_OPTIONS } from '../../../src/cli/serve-options.js';

const TABLE = {
  port: option({ flag: '--port <port>', env: 'T_PORT', description: 'port', defaultValue: 50051, read: read.integerIn(0, 65535) }),
  host: option({ flag: '--host <host>', env: 'T_HOST', description: 'host', defaultValue: '127.0.0.1', read: read.text }),
  plugin: option({ flag: '--plugin <module>', env: 'T_PLUGINS', description: 'plugins', read: read.text, repeatable: true }),
  runAhead: option({ flag: '--run-ahead <on|off>', env: 'T_RUN_AHEAD', description: 'run ahead', defaultValue: true, read: read.onOff }),
  timeout: option({ flag: '--timeout <seconds>', env: 'T_TIMEOUT', description: 'timeout', read: read.seconds(3600) }),
};

const folder = mkdtempSync(join(tmpdir(), 'stepwise-options-'));
function file(name: string, text: string): string {
  const path = join(folder, name);
  writeFileSync(path, text);
  return path;
}

/** Parses `argv` with the table's flags and resolves every option. */
async function resolveWith(argv: string[], env: Record<string, string> = {}, config?: string) {
  const command = new Command().exitOverride();
  addOptions(command, TABLE);
  command.parse(argv, { from: 'user' });
  return resolveOptions(TABLE, command.opts(), env, config);
}

describe('options from three sources', () => {
  it('take their defaults when no source gives them', async () => {
    expect(await resolveWith([])).toEqual({ port: 50051, host: '127.0.0.1', plugin: [], runAhead: true, timeout: undefined });
  });

  it('a flag wins over the config file, the file over the environment', async () => {
    const yaml = file('serve.yaml', 'port: 7000\nhost: 0.0.0.0\nrun-ahead: off\nplugin: [a.mjs, b.mjs]\n');
    const env = { T_PORT: '6000', T_HOST: 'example', T_TIMEOUT: '1.5' };
    expect(await resolveWith(['--port', '8000'], env, yaml)).toEqual({
      port: 8000,
      host: '0.0.0.0',
      plugin: ['a.mjs', 'b.mjs'],
      runAhead: false,
      timeout: 1500,
    });
    expect(await resolveWith([], env)).toMatchObject({ port: 6000, host: 'example' });
  });

  it('reads JSON files too, and lists from repeated flags or a comma-separated variable', async () => {
    const json = file('serve.json', JSON.stringify({ port: 9000, 'run-ahead': true }));
    expect(await resolveWith([], {}, json)).toMatchObject({ port: 9000, runAhead: true });
    expect((await resolveWith(['--plugin', 'x', '--plugin', 'y'])).plugin).toEqual(['x', 'y']);
    expect((await resolveWith([], { T_PLUGINS: 'x,y' })).plugin).toEqual(['x', 'y']);
  });

  it('refuse a bad value naming its source, the rule and the value', async () => {
    await expect(resolveWith(['--port', '70000'])).rejects.toThrow('`--port` must be an integer in [0, 65535]; given 70000');
    await expect(resolveWith([], { T_RUN_AHEAD: 'yes' })).rejects.toThrow('T_RUN_AHEAD must be on or off; given yes');
    const yaml = file('bad.yaml', 'port: -1\n');
    await expect(resolveWith([], {}, yaml)).rejects.toThrow(`\`port\` in ${yaml} must be an integer in [0, 65535]; given -1`);
  });

  it('refuse a config file with an unknown option, listing the known ones', async () => {
    const yaml = file('unknown.yaml', 'prot: 1\n');
    const refusal = resolveWith([], {}, yaml);
    await expect(refusal).rejects.toBeInstanceOf(OptionError);
    await expect(refusal).rejects.toThrow('unknown option `prot`; the options are host, plugin, port, run-ahead, timeout');
  });

  it('refuse a config file that is not a mapping, or not valid', async () => {
    await expect(resolveWith([], {}, file('list.yaml', '- 1\n- 2\n'))).rejects.toThrow('must hold a mapping');
    await expect(resolveWith([], {}, file('broken.json', '{ "port": '))).rejects.toThrow('is not valid JSON');
    await expect(resolveWith([], {}, join(folder, 'missing.yaml'))).rejects.toThrow('cannot be read');
  });
});

describe('stepwise serve --help', () => {
  it('shows every option with its environment variable and its default', () => {
    const command = new Command('serve');
    addOptions(command, SERVE_OPTIONS);
    const help = command.helpInformation().replace(/\s+/g, ' ');
    for (const spec of Object.values(SERVE_OPTIONS)) {
      expect(help).toContain(spec.flag.split(' ')[0]!);
      expect(help).toContain(`[env ${spec.env}]`);
    }
    for (const flag of ['--max-streams', '--max-new-tokens', '--max-input-tokens', '--port', '--dtype']) {
      const entry = help.slice(help.indexOf(flag));
      expect(entry.slice(0, entry.indexOf(' --', 3))).toMatch(/\(default: [^)]+\)/);
    }
  });
});

/**
 * What every client command shares: how to reach the server (`--server`, TLS files, `--token`) and the
 * parsers of numeric options, so that each command states its errors the same way.
 */
import { Command, InvalidArgumentError } from 'commander';
import { defaultServer, type ClientTls } from '../channel-security.js';

/** The connection flags as commander hands them over. */
export interface ConnectionFlags {
  server: string;
  tls?: boolean;
  ca?: string;
  cert?: string;
  key?: string;
  token?: string;
}

/** Adds `--server`, `--tls`, `--ca`, `--cert`, `--key` and `--token` to `command`. */
export function addConnectionOptions(command: Command, purpose: string): Command {
  return command
    .option('--server <host:port>', `the server to ${purpose} on [env STEPWISE_SERVER]`, defaultServer())
    .option('--tls', "use TLS, trusting the system's root certificates (implied by --ca, --cert, --key)")
    .option('--ca <file>', "PEM CA certificate that signed the server's certificate")
    .option('--cert <file>', 'PEM client certificate, for a server that requires one (mutual TLS)')
    .option('--key <file>', 'PEM private key of --cert')
    .option('--token <token>', 'bearer token sent with every call [env STEPWISE_TOKEN, which ps does not show]');
}

/** Stops with a usage error when only one of `--cert` and `--key` is given. */
export function checkConnectionFlags(flags: ConnectionFlags, command: Command): void {
  if ((flags.cert === undefined) !== (flags.key === undefined)) command.error('`--cert` and `--key` go together: a client certificate and its key');
}

/** TLS when any of `--tls`, `--ca`, `--cert`, `--key` is given. */
export function tlsOf(flags: ConnectionFlags): ClientTls | undefined {
  if (!flags.tls && flags.ca === undefined && flags.cert === undefined && flags.key === undefined) return undefined;
  return { caFile: flags.ca, certFile: flags.cert, keyFile: flags.key };
}

/** A parser of an integer option of at least `min`, whose error names the flag and the value given. */
export function integerOption(flag: string, min: number) {
  return (value: string): number => {
    const parsed = Number(value);
    if (!/^\d+$/.test(value.trim()) || parsed < min || !Number.isSafeInteger(parsed)) {
      throw new InvalidArgumentError(`\`${flag}\` must be an integer >= ${min}; given ${value}`);
    }
    return parsed;
  };
}

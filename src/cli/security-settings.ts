/**
 * `serve`'s TLS and token options as the composition's `TransportSecuritySettings`, refusing combinations
 * that cannot mean anything (a certificate without its key, a client CA without TLS).
 */
import type { TransportSecuritySettings } from '../server/transport-security.js';
import { OptionError } from './option-table.js';

export interface SecurityOptions {
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly tlsClientCa?: string;
  readonly authTokenFile?: string;
  /** Milliseconds. */
  readonly securityReloadInterval: number;
}

export function securitySettings(options: SecurityOptions): TransportSecuritySettings {
  const { tlsCert, tlsKey, tlsClientCa } = options;
  if ((tlsCert === undefined) !== (tlsKey === undefined)) {
    throw new OptionError(tlsCert === undefined ? '`--tls-key` needs `--tls-cert` (the certificate of that key)' : '`--tls-cert` needs `--tls-key` (the private key of that certificate)');
  }
  if (tlsClientCa !== undefined && tlsCert === undefined) {
    throw new OptionError('`--tls-client-ca` needs `--tls-cert` and `--tls-key`: client certificates are checked in a TLS handshake');
  }
  return {
    tls: tlsCert === undefined ? undefined : { certFile: tlsCert, keyFile: tlsKey!, clientCaFile: tlsClientCa },
    tokenFile: options.authTokenFile,
    reloadIntervalMs: options.securityReloadInterval,
  };
}

/** The start-up warning for an address other machines can reach, by what protects it. */
import { describe, expect, it } from 'vitest';
import { exposureWarnings, isLoopback, type Protection } from '../../../src/server/transport-security.js';

const NOTHING: Protection = { tls: false, clientCertificates: false, tokens: false };

describe('exposure warnings', () => {
  it('says nothing for a loopback address, whatever protects it', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]', 'LOCALHOST']) {
      expect(isLoopback(host), host).toBe(true);
      expect(exposureWarnings(host, NOTHING), host).toEqual([]);
    }
  });

  it('warns for any other address without TLS or tokens, naming both risks and the flags that remove them', () => {
    for (const host of ['0.0.0.0', '::', '[::]', '192.168.1.20', 'stepwise.internal', '128.0.0.1']) {
      expect(isLoopback(host), host).toBe(false);
      const [warning, ...more] = exposureWarnings(host, NOTHING);
      expect(more).toEqual([]);
      expect(warning).toContain(`listening on ${host}, which other machines can reach, without TLS or tokens`);
      expect(warning).toContain('anyone who reaches the port can run the model');
      expect(warning).toContain('crosses the network in plaintext');
      expect(warning).toContain('--tls-cert/--tls-key and --auth-token-file');
    }
  });

  it('warns that tokens without TLS travel in plaintext', () => {
    expect(exposureWarnings('0.0.0.0', { ...NOTHING, tokens: true })).toEqual([
      expect.stringContaining('without TLS: bearer tokens and every request and response cross the network in plaintext'),
    ]);
  });

  it('warns that TLS alone lets anyone in', () => {
    expect(exposureWarnings('0.0.0.0', { ...NOTHING, tls: true })).toEqual([
      expect.stringContaining('with TLS but no tokens or client certificates: anyone who reaches the port can run the model'),
    ]);
  });

  it('says nothing with TLS and tokens, or TLS and client certificates', () => {
    expect(exposureWarnings('0.0.0.0', { tls: true, clientCertificates: false, tokens: true })).toEqual([]);
    expect(exposureWarnings('0.0.0.0', { tls: true, clientCertificates: true, tokens: false })).toEqual([]);
  });
});

/** The token file's format, the constant-time lookup's answers, and that no message repeats a token. */
import { describe, expect, it } from 'vitest';
import { TokenFileError, TokenTable } from '../../../src/server/bearer-tokens.js';
import { needsToken } from '../../../src/server/bearer-auth.js';

const ALICE = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
const BOB_OLD = 'bob-old-0000000000000000000000000';
const BOB_NEW = 'bob-new-1111111111111111111111111';
const UNNAMED = 'ffffffffffffffffffffffffffffffff';

describe('token file', () => {
  const { table, warnings } = TokenTable.parse(
    `# tokens of this server\nalice:${ALICE}\n\n  bob : ${BOB_OLD}  \r\nbob:${BOB_NEW}\n${UNNAMED}\n`,
    'tokens.txt',
  );

  it('names each token by the name before its colon, or by its line when it has none', () => {
    expect(table.identify(ALICE)).toBe('alice');
    expect(table.identify(UNNAMED)).toBe('token-line-6');
    expect(table.callers).toEqual(['alice', 'bob', 'token-line-6']);
    expect(table.size).toBe(4);
    expect(warnings).toEqual([]);
  });

  it('lets one caller hold two tokens while it rotates them', () => {
    expect(table.identify(BOB_OLD)).toBe('bob');
    expect(table.identify(BOB_NEW)).toBe('bob');
  });

  it('knows no other token: not a prefix, not an extension, not another case, not a name', () => {
    for (const presented of [ALICE.slice(0, -1), `${ALICE}0`, ALICE.toUpperCase(), 'alice', `alice:${ALICE}`, '']) {
      expect(table.identify(presented), presented).toBeUndefined();
    }
  });

  it('refuses a file without a token, or with a line that cannot be one, naming the line and never the token', () => {
    const refusal = (text: string): string => {
      try {
        TokenTable.parse(text, 'tokens.txt');
      } catch (error) {
        expect(error).toBeInstanceOf(TokenFileError);
        return (error as Error).message;
      }
      throw new Error('accepted');
    };
    expect(refusal('# only a comment\n\n')).toBe('tokens.txt holds no token: every call would be refused; write one token per line (or name:token)');
    expect(refusal(`alice:${ALICE}\nbob:${ALICE}\n`)).toBe('tokens.txt line 2: the same token as line 1; each token must be unique');
    expect(refusal(`alice:\n`)).toBe('tokens.txt line 1: no token after the colon');
    const spaced = 'secret with spaces-0000000000000';
    expect(refusal(`x\n${spaced}\n`)).toBe('tokens.txt line 2: a token must be visible ASCII characters without spaces (what a header carries)');
    expect(refusal(`al ice:${ALICE}\n`)).toBe('tokens.txt line 1: a name (before the colon) must be letters, digits or . _ @ + -, and not empty');
  });

  it('accepts a short token with a warning that names its line and caller, not the token', () => {
    const { warnings: short } = TokenTable.parse('ci:abc123\n', 'tokens.txt');
    expect(short).toEqual(['tokens.txt line 1 (ci): the token is shorter than 16 characters and can be guessed; make one with `openssl rand -hex 32`']);
  });
});

describe('which calls need a token', () => {
  it('every method of stepwise.v1 and of reflection; health alone stays open', () => {
    expect(needsToken('/stepwise.v1.StepwiseService/Decode')).toBe(true);
    expect(needsToken('/stepwise.v1.StepwiseService/GetModelInfo')).toBe(true);
    expect(needsToken('/grpc.reflection.v1.ServerReflection/ServerReflectionInfo')).toBe(true);
    expect(needsToken('/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo')).toBe(true);
    expect(needsToken('/grpc.health.v1.Health/Check')).toBe(false);
    expect(needsToken('/grpc.health.v1.Health/Watch')).toBe(false);
    expect(needsToken('/grpc.health.v1.HealthX/Check')).toBe(true);
  });
});

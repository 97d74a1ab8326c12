/**
 * The bearer tokens a server accepts, read from its token file (`serve --auth-token-file FILE`):
 *
 * ```text
 * # one token per line; `name:token` names the caller in logs without printing the token
 * alice:3f9a1c...
 * batch-jobs:77e0b2...
 * 9c41d5...                 # unnamed: the caller is called `token-line-4`
 * ```
 *
 * Blank lines and lines starting with `#` are skipped; a line with a colon is `name:token` (the first colon
 * splits). A name may appear on several lines: one caller with an old and a new token while it rotates.
 *
 * Secrets never leave this module: the table keeps only each token's SHA-256, and no message (errors
 * about the file included) repeats a token. `identify` hashes what the client presented and compares it
 * with every entry, all of them each time, with `timingSafeEqual`: how long a lookup takes says nothing
 * about how much of a token was right, nor which entry matched.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** A token file that cannot be used: the message names the file and the line, never the token. */
export class TokenFileError extends Error {
  override readonly name = 'TokenFileError';
}

/** Tokens shorter than this are accepted with a warning: they can be guessed. */
export const SHORT_TOKEN_LENGTH = 16;

/** What a caller without a name in the token file is called: the line its token is on. */
export const unnamedCaller = (line: number): string => `token-line-${line}`;

interface TokenEntry {
  readonly caller: string;
  readonly digest: Buffer;
}

const sha256 = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

/** Characters a token may have: visible ASCII, what an HTTP header value carries without escaping. */
const TOKEN_CHARACTERS = /^[\x21-\x7e]+$/;
const NAME_CHARACTERS = /^[A-Za-z0-9._@+-]+$/;

export class TokenTable {
  private constructor(private readonly entries: readonly TokenEntry[]) {}

  /** How many tokens the table holds. */
  get size(): number {
    return this.entries.length;
  }

  /** The callers' names, each once, in file order. */
  get callers(): string[] {
    return [...new Set(this.entries.map((entry) => entry.caller))];
  }

  /** The caller `presented` belongs to, or undefined when it is no token of this table. */
  identify(presented: string): string | undefined {
    const digest = sha256(presented);
    let caller: string | undefined;
    for (const entry of this.entries) {
      // Every entry is compared, with no early exit, whatever matched before.
      if (timingSafeEqual(entry.digest, digest)) caller ??= entry.caller;
    }
    return caller;
  }

  /**
   * Reads a token file's text. Throws `TokenFileError` for a line that cannot be a token or a file with
   * none; `warnings` lists tokens that are accepted but too short to be safe.
   */
  static parse(text: string, path: string): { table: TokenTable; warnings: string[] } {
    const entries: TokenEntry[] = [];
    const warnings: string[] = [];
    const lineOfDigest = new Map<string, number>();
    text.split(/\r?\n/).forEach((raw, index) => {
      const line = index + 1;
      const trimmed = raw.trim();
      if (trimmed === '' || trimmed.startsWith('#')) return;
      const { caller, token } = splitLine(trimmed, line, path);
      const digest = sha256(token);
      const earlier = lineOfDigest.get(digest.toString('hex'));
      if (earlier !== undefined) throw new TokenFileError(`${path} line ${line}: the same token as line ${earlier}; each token must be unique`);
      lineOfDigest.set(digest.toString('hex'), line);
      if (token.length < SHORT_TOKEN_LENGTH) {
        warnings.push(`${path} line ${line} (${caller}): the token is shorter than ${SHORT_TOKEN_LENGTH} characters and can be guessed; make one with \`openssl rand -hex 32\``);
      }
      entries.push({ caller, digest });
    });
    if (entries.length === 0) throw new TokenFileError(`${path} holds no token: every call would be refused; write one token per line (or name:token)`);
    return { table: new TokenTable(entries), warnings };
  }
}

/** One line as caller and token; the messages name the line, never what is on it. */
function splitLine(text: string, line: number, path: string): { caller: string; token: string } {
  const colon = text.indexOf(':');
  const name = colon < 0 ? undefined : text.slice(0, colon).trim();
  const token = colon < 0 ? text : text.slice(colon + 1).trim();
  if (name !== undefined && !NAME_CHARACTERS.test(name)) {
    throw new TokenFileError(`${path} line ${line}: a name (before the colon) must be letters, digits or . _ @ + -, and not empty`);
  }
  if (token === '') throw new TokenFileError(`${path} line ${line}: no token after the colon`);
  if (!TOKEN_CHARACTERS.test(token)) {
    throw new TokenFileError(`${path} line ${line}: a token must be visible ASCII characters without spaces (what a header carries)`);
  }
  return { caller: name ?? unnamedCaller(line), token };
}

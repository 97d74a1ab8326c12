/**
 * The client's stop strings (matched on the decoded text) and stop token sequences (matched on the
 * generated ids). Checked after every token, looking only at what that token could have completed.
 */
export class StopConditions {
  private readonly longestString: number;

  constructor(
    private readonly strings: readonly string[],
    private readonly sequences: readonly (readonly number[])[],
  ) {
    this.longestString = strings.reduce((longest, s) => Math.max(longest, s.length), 0);
  }

  /** Whether any stop string was given: only then does stopping depend on the decoded text. */
  get watchesText(): boolean {
    return this.longestString > 0;
  }

  /** The ids that can complete a stop sequence (the last id of each): only these can end it. */
  get sequenceEnds(): number[] {
    return this.sequences.flatMap((sequence) => sequence.slice(-1));
  }

  /**
   * Whether the generated ids now end with a stop sequence, or the text gained a stop string (which may
   * span the new piece and earlier text). `textLengthBefore` is the text's length before the last token.
   */
  reached(generated: readonly number[], text: string, textLengthBefore: number): boolean {
    for (const sequence of this.sequences) if (endsWith(generated, sequence)) return true;
    if (this.longestString === 0 || text.length === textLengthBefore) return false;
    const from = Math.max(0, textLengthBefore - this.longestString + 1);
    return this.strings.some((s) => text.indexOf(s, from) !== -1);
  }
}

function endsWith(ids: readonly number[], suffix: readonly number[]): boolean {
  if (suffix.length === 0 || suffix.length > ids.length) return false;
  const offset = ids.length - suffix.length;
  for (let i = 0; i < suffix.length; i++) if (ids[offset + i] !== suffix[i]) return false;
  return true;
}

/**
 * `regex`: the decoded output must match a regular expression (as a whole).
 */
import { defineProcessor } from '../define-processor.js';
import type { LogitsProcessor, StaticContext, StepContext } from '../types.js';
import { LazyDfa, type DfaState } from './regex/lazy-dfa.js';
import { buildNfa, PatternTooLargeError, type Nfa } from './regex/nfa.js';
import { parseRegex, RegexSyntaxError } from './regex/parser.js';
import { forEachOutputCodePoint } from './token-text.js';

/** Compiles a pattern of the supported subset; throws `RegexSyntaxError` or `PatternTooLargeError`. */
export function compileRegex(pattern: string): Nfa {
  return buildNfa(parseRegex(pattern));
}

/**
 * Runs a DFA built lazily from the pattern over the text the tokens spell (see `token-text.ts`): a token may
 * be chosen iff the automaton is still alive after its text — some continuation can still complete a match
 * — and EOS only in an accepting state. Special tokens other than EOS are never allowed.
 *
 * The set of allowed tokens depends only on the DFA state (and on whether the output is still empty, since
 * the first token loses its leading space), so it is computed once per state by one scan of the vocabulary
 * and kept as a bitset (V/8 bytes) in this instance. Each step then costs one pass over the row. The DFA
 * state of the generated prefix is tracked token by token and survives rewinds: only the part of the history
 * that changed is re-read.
 *
 * A pattern whose matches the vocabulary cannot spell leaves an empty row eventually, which ends the stream
 * with an error naming this processor.
 */
export class RegexProcessor implements LogitsProcessor {
  readonly name = 'regex';
  private readonly dfa: LazyDfa;
  private readonly masks = new Map<DfaState, Uint32Array>();
  private readonly firstTokenMasks = new Map<DfaState, Uint32Array>();
  /** Generated tokens read so far, and after each: the DFA state and whether any text token was output. */
  private readonly readTokens: number[] = [];
  private readonly statesAfter: (DfaState | null)[] = [];
  private readonly startedAfter: boolean[] = [];
  /** The state `feed` moves; a field so that the per-code-point callback is created once. */
  private cursor: DfaState | null = null;
  private readonly step = (codePoint: number): boolean => {
    this.cursor = this.dfa.next(this.cursor!, codePoint);
    return this.cursor !== null;
  };

  constructor(
    nfa: Nfa,
    private readonly context: StaticContext,
  ) {
    this.dfa = new LazyDfa(nfa);
  }

  apply(row: Float32Array, { history }: StepContext): void {
    const { state, started } = this.advance(history);
    if (state === null) {
      row.fill(-Infinity);
      return;
    }
    const mask = this.maskFor(state, !started);
    for (let word = 0; word < mask.length; word++) {
      const bits = mask[word]!;
      if (bits === 0xffffffff) continue;
      const base = word * 32;
      if (bits === 0) {
        row.fill(-Infinity, base, Math.min(base + 32, row.length));
        continue;
      }
      const end = Math.min(base + 32, row.length);
      for (let id = base; id < end; id++) if (((bits >>> (id - base)) & 1) === 0) row[id] = -Infinity;
    }
  }

  isArgmaxInvariant(): boolean {
    return false;
  }

  /** The DFA state after the generated tokens of `history`, re-reading only what changed since the last call. */
  private advance(history: readonly number[]): { state: DfaState | null; started: boolean } {
    const offset = this.context.decoderPromptLength;
    const generated = Math.max(0, history.length - offset);
    let kept = 0;
    while (kept < this.readTokens.length && kept < generated && this.readTokens[kept] === history[offset + kept]) kept++;
    this.readTokens.length = kept;
    this.statesAfter.length = kept;
    this.startedAfter.length = kept;
    let state = kept === 0 ? this.dfa.start : this.statesAfter[kept - 1]!;
    let started = kept === 0 ? false : this.startedAfter[kept - 1]!;
    for (let i = kept; i < generated; i++) {
      const token = history[offset + i]!;
      if (state !== null && !this.context.isSpecialToken(token)) {
        state = this.feed(state, token, !started);
        started = true;
      }
      this.readTokens.push(token);
      this.statesAfter.push(state);
      this.startedAfter.push(started);
    }
    return { state, started };
  }

  /** The state after `token`'s text, or null when the pattern cannot match any more (or the id has no text). */
  private feed(state: DfaState, token: number, isFirstOfOutput: boolean): DfaState | null {
    const piece = this.context.tokenString(token);
    if (piece === undefined) return null;
    this.cursor = state;
    return forEachOutputCodePoint(piece, isFirstOfOutput, this.step) ? this.cursor : null;
  }

  private maskFor(state: DfaState, isFirstOfOutput: boolean): Uint32Array {
    const cache = isFirstOfOutput ? this.firstTokenMasks : this.masks;
    let mask = cache.get(state);
    if (mask === undefined) {
      const { vocabSize, eosTokenId } = this.context;
      mask = new Uint32Array(Math.ceil(vocabSize / 32));
      for (let id = 0; id < vocabSize; id++) {
        const allowed =
          id === eosTokenId
            ? state.accepting
            : !this.context.isSpecialToken(id) && this.feed(state, id, isFirstOfOutput) !== null;
        if (allowed) mask[id >>> 5]! |= 1 << (id & 31);
      }
      cache.set(state, mask);
    }
    return mask;
  }
}

export const regex = defineProcessor({
  name: 'regex',
  description:
    'The decoded output must match the regular expression as a whole. Supported: literals, escapes (\\d \\w \\s ' +
    '\\D \\W \\S \\n \\t \\xHH \\uHHHH), ., classes [...], groups (...), alternation |, quantifiers * + ? {m,n}; ' +
    'refused: backreferences, lookaround, \\b, anchors inside the pattern.',
  parameters: {
    pattern: { type: 'string', description: 'The regular expression.', required: true },
  },
  check(params, _context, reject) {
    let nfa: Nfa;
    try {
      nfa = compileRegex(params.pattern);
    } catch (error) {
      if (error instanceof RegexSyntaxError || error instanceof PatternTooLargeError) {
        return reject('pattern', `\`pattern\` ${JSON.stringify(params.pattern)} cannot be used: ${error.message}`);
      }
      throw error;
    }
    if (!nfa.live[nfa.start]) reject('pattern', `\`pattern\` ${JSON.stringify(params.pattern)} matches no text at all`);
  },
  create: (params, context) => new RegexProcessor(compileRegex(params.pattern), context),
});

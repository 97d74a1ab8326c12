/**
 * `regex`: the decoded output must match a regular expression (as a whole).
 */
import { defineProcessor } from '../define-processor.js';
import { count, quoted } from '../echo.js';
import { PROCESSOR_LIMITS } from '../limits.js';
import type { LogitsProcessor, StaticContext, StepContext } from '../types.js';
import { DEAD, determinize, type Dfa } from './regex/dfa.js';
import { buildNfa, PatternTooLargeError } from './regex/nfa.js';
import { parseRegex, RegexSyntaxError } from './regex/parser.js';
import { VocabularyClasses } from './regex/vocabulary-classes.js';

/**
 * Compiles a pattern of the supported subset to its whole DFA; throws `RegexSyntaxError` or
 * `PatternTooLargeError` (the message names the limit).
 */
export function compileRegex(pattern: string): Dfa {
  return determinize(buildNfa(parseRegex(pattern)));
}

/** A pattern compiled for one tokenizer: its DFA, and every token's text in the DFA's alphabet. */
export interface CompiledRegex {
  readonly dfa: Dfa;
  readonly vocabulary: VocabularyClasses;
}

/** Token masks one instance keeps at most (V/8 bytes each); past that the oldest are computed again when needed. */
const MAX_KEPT_MASKS = 256;

/**
 * Runs the pattern's DFA (built whole at `Start`) over the text the tokens spell (see `token-text.ts`): a
 * token may be chosen iff the automaton is still alive after its text — some continuation can still complete
 * a match — and EOS only in an accepting state. Special tokens other than EOS are never allowed.
 *
 * The set of allowed tokens depends only on the DFA state (and on whether the output is still empty, since
 * the first token loses its leading space), so it is computed once per state by one scan of the vocabulary
 * and kept as a bitset (V/8 bytes) in this instance. A step therefore costs one pass over the row, plus one
 * scan of the vocabulary when it reaches a state not seen yet. The DFA state of the generated prefix is
 * tracked token by token and survives rewinds: only the part of the history that changed is re-read.
 *
 * A pattern whose matches the vocabulary cannot spell leaves an empty row eventually, which ends the stream
 * with an error naming this processor.
 */
export class RegexProcessor implements LogitsProcessor {
  readonly name = 'regex';
  private readonly masks = new Map<number, Uint32Array>();
  private readonly firstTokenMasks = new Map<number, Uint32Array>();
  /** Generated tokens read so far, and after each: the DFA state and whether any text token was output. */
  private readonly readTokens: number[] = [];
  private readonly statesAfter: number[] = [];
  private readonly startedAfter: boolean[] = [];
  private readonly dfa: Dfa;
  private readonly vocabulary: VocabularyClasses;

  /** `compiled` is only read, so one serves every instance built from the same validated pattern. */
  constructor(
    compiled: CompiledRegex,
    private readonly context: StaticContext,
  ) {
    this.dfa = compiled.dfa;
    this.vocabulary = compiled.vocabulary;
  }

  apply(row: Float32Array, { history }: StepContext): void {
    const { state, started } = this.advance(history);
    if (state === DEAD) {
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
  private advance(history: readonly number[]): { state: number; started: boolean } {
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
      if (state !== DEAD && !this.context.isSpecialToken(token)) {
        state = this.feed(state, token, !started);
        started = true;
      }
      this.readTokens.push(token);
      this.statesAfter.push(state);
      this.startedAfter.push(started);
    }
    return { state, started };
  }

  /** The state after `token`'s text, or `DEAD` when the pattern cannot match any more (or the id has no text). */
  private feed(state: number, token: number, isFirstOfOutput: boolean): number {
    const { vocabulary, dfa } = this;
    if (token < 0 || token >= this.context.vocabSize || !vocabulary.hasText(token)) return DEAD;
    const { classes } = vocabulary;
    const end = vocabulary.end(token);
    for (let at = vocabulary.start(token, isFirstOfOutput); at < end && state !== DEAD; at++) state = dfa.move(state, classes[at]!);
    return state;
  }

  private maskFor(state: number, isFirstOfOutput: boolean): Uint32Array {
    const cache = isFirstOfOutput ? this.firstTokenMasks : this.masks;
    let mask = cache.get(state);
    if (mask === undefined) {
      const { vocabSize, eosTokenId } = this.context;
      mask = new Uint32Array(Math.ceil(vocabSize / 32));
      for (let id = 0; id < vocabSize; id++) {
        const allowed = id === eosTokenId ? this.dfa.isAccepting(state) : this.feed(state, id, isFirstOfOutput) !== DEAD;
        if (allowed) mask[id >>> 5]! |= 1 << (id & 31);
      }
      // A stream that rewinds through many states keeps the most recent masks only.
      if (cache.size === MAX_KEPT_MASKS) cache.delete(cache.keys().next().value!);
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
    pattern: {
      type: 'string',
      description:
        `The regular expression. Groups nest at most ${count(PROCESSOR_LIMITS.regexGroupDepth)} deep and counts go up to ` +
        `${count(PROCESSOR_LIMITS.regexRepeatCount)}; its automaton, built at Start, may have at most ` +
        `${count(PROCESSOR_LIMITS.regexNfaStates)} states expanded, ${count(PROCESSOR_LIMITS.regexDfaStates)} deterministic ` +
        `ones, and take at most ${count(PROCESSOR_LIMITS.regexBuildVisits)} state visits to build.`,
      required: true,
      maxCharacters: PROCESSOR_LIMITS.regexPatternCharacters,
    },
  },
  prepare(params, context, reject): CompiledRegex {
    let dfa: Dfa;
    try {
      dfa = compileRegex(params.pattern);
    } catch (error) {
      if (error instanceof RegexSyntaxError || error instanceof PatternTooLargeError) {
        return reject('pattern', `\`pattern\` ${quoted(params.pattern)} cannot be used: ${error.message}`);
      }
      throw error;
    }
    if (dfa.start === DEAD) reject('pattern', `\`pattern\` ${quoted(params.pattern)} matches no text at all`);
    return { dfa, vocabulary: VocabularyClasses.of(dfa.alphabet, context) };
  },
  create: (_params, context, compiled) => new RegexProcessor(compiled, context),
});

/**
 * The tokenizer files of a model folder. Either the built-in one (a small T5-style Unigram vocabulary
 * written here, so the project needs no downloaded tokenizer), or a given Hugging Face `tokenizer.json`
 * copied as is with its `tokenizer_config.json` / `special_tokens_map.json`.
 *
 * The built-in tokenizer has T5's layout: `<pad>`=0, `</s>`=1, `<unk>`=2, pieces scored like a
 * SentencePiece model (best first), `<extra_id_N>` sentinels at the top of the id range
 * (`<extra_id_0>` last), WhitespaceSplit + Metaspace(`▁`) pre-tokenization, `$A </s>` post-processing.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { characters, commonSuffixes, commonWords } from './tokenizer-vocabulary.js';

export const wordStart = '\u2581';
export const specialTokens = { pad: '<pad>', eos: '</s>', unk: '<unk>' } as const;
/** T5 has 100 sentinels; a handful keeps the vocabulary small while exercising the layout. */
export const builtInExtraIds = 10;

/** Files to write into the model folder (name → contents), and the number of ids the tokenizer knows. */
export interface TokenizerFiles {
  readonly files: ReadonlyMap<string, string | Buffer>;
  readonly size: number;
}

function addedToken(id: number, content: string) {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
}

/**
 * Unigram pieces with scores chosen so that fewer pieces always win: any multi-character piece scores
 * above -3 and any single character below -7, so a known word is never split.
 */
function builtInPieces(): Array<[string, number]> {
  const multi = new Set<string>();
  for (const word of commonWords) multi.add(wordStart + word);
  for (const suffix of commonSuffixes) multi.add(suffix);
  const singles = new Set<string>([wordStart]);
  for (const char of characters) singles.add(wordStart + char);
  for (const char of characters) singles.add(char);
  for (const piece of singles) multi.delete(piece);
  const pieces: Array<[string, number]> = [];
  [...multi].forEach((piece, i) => pieces.push([piece, -(2 + i / 1000)]));
  [...singles].forEach((piece, i) => pieces.push([piece, -(8 + i / 1000)]));
  return pieces;
}

export function builtInTokenizer(): TokenizerFiles {
  const vocab: Array<[string, number]> = [
    [specialTokens.pad, 0],
    [specialTokens.eos, 0],
    [specialTokens.unk, 0],
    ...builtInPieces(),
  ];
  const extraIds = Array.from({ length: builtInExtraIds }, (_, i) => `<extra_id_${builtInExtraIds - 1 - i}>`);
  const firstExtraId = vocab.length;
  for (const extra of extraIds) vocab.push([extra, 0]);

  const metaspace = { type: 'Metaspace', replacement: wordStart, add_prefix_space: true };
  const tokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [
      addedToken(0, specialTokens.pad),
      addedToken(1, specialTokens.eos),
      addedToken(2, specialTokens.unk),
      ...extraIds.map((extra, i) => addedToken(firstExtraId + i, extra)),
    ],
    normalizer: { type: 'NFKC' },
    pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'WhitespaceSplit' }, metaspace] },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: specialTokens.eos, type_id: 0 } }],
      pair: [
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: specialTokens.eos, type_id: 0 } },
        { Sequence: { id: 'B', type_id: 0 } },
        { SpecialToken: { id: specialTokens.eos, type_id: 0 } },
      ],
      special_tokens: { [specialTokens.eos]: { id: specialTokens.eos, ids: [1], tokens: [specialTokens.eos] } },
    },
    decoder: metaspace,
    model: { type: 'Unigram', unk_id: 2, vocab, byte_fallback: false },
  };
  const sentinels = [...extraIds].reverse(); // <extra_id_0> first, as T5 lists them
  const specialTokensMap = {
    additional_special_tokens: sentinels,
    eos_token: specialTokens.eos,
    pad_token: specialTokens.pad,
    unk_token: specialTokens.unk,
  };
  const tokenizerConfig = {
    ...specialTokensMap,
    clean_up_tokenization_spaces: true,
    extra_ids: builtInExtraIds,
    model_max_length: 512,
    tokenizer_class: 'T5Tokenizer',
  };
  return {
    files: new Map([
      ['tokenizer.json', JSON.stringify(tokenizerJson, null, 2)],
      ['tokenizer_config.json', JSON.stringify(tokenizerConfig, null, 2)],
      ['special_tokens_map.json', JSON.stringify(specialTokensMap, null, 2)],
    ]),
    size: vocab.length,
  };
}

interface TokenizerJsonShape {
  added_tokens?: Array<{ id: number; content: string }>;
  model?: { vocab?: Array<[string, number]> | Record<string, number> };
}

/** The token string of every id in a `tokenizer.json` (model vocabulary and added tokens). */
function tokensById(json: TokenizerJsonShape): Map<number, string> {
  const tokens = new Map<number, string>();
  const vocab = json.model?.vocab;
  if (Array.isArray(vocab)) vocab.forEach(([piece], id) => tokens.set(id, piece));
  else if (vocab !== undefined) for (const [piece, id] of Object.entries(vocab)) tokens.set(id, piece);
  for (const token of json.added_tokens ?? []) tokens.set(token.id, token.content);
  return tokens;
}

/** Number of ids a `tokenizer.json` can produce: one more than its largest id. */
export function tokenizerSize(tokenizerJsonText: string, path = 'tokenizer.json'): number {
  const tokens = tokensById(JSON.parse(tokenizerJsonText) as TokenizerJsonShape);
  if (tokens.size === 0) throw new Error(`${path}: no vocabulary found (expected \`model.vocab\` or \`added_tokens\`)`);
  return Math.max(...tokens.keys()) + 1;
}

/**
 * Reads a given `tokenizer.json` (plus the config files beside it, if present) to copy into a model
 * folder. Its ids 0 and 1 must be `<pad>` and `</s>`, since the model's config uses T5's special ids.
 */
export async function tokenizerFromFile(path: string): Promise<TokenizerFiles> {
  const text = await readFile(path, 'utf8').catch((error: Error) => {
    throw new Error(`\`tokenizer\`: cannot read ${path}: ${error.message}`);
  });
  const tokens = tokensById(JSON.parse(text) as TokenizerJsonShape);
  for (const [id, expected] of [[0, specialTokens.pad], [1, specialTokens.eos]] as const) {
    if (tokens.get(id) !== expected) {
      throw new Error(`\`tokenizer\` ${path}: id ${id} must be ${expected} (T5's special ids); found ${JSON.stringify(tokens.get(id))}`);
    }
  }
  const files = new Map<string, string | Buffer>([['tokenizer.json', await readFile(path)]]);
  for (const name of ['tokenizer_config.json', 'special_tokens_map.json']) {
    const sibling = join(dirname(path), name);
    if (existsSync(sibling)) files.set(name, await readFile(sibling));
  }
  if (!files.has('tokenizer_config.json')) {
    // transformers.js loads a tokenizer only when tokenizer_config.json exists.
    const config = { eos_token: specialTokens.eos, pad_token: specialTokens.pad, unk_token: specialTokens.unk, model_max_length: 512, tokenizer_class: 'T5Tokenizer' };
    files.set('tokenizer_config.json', JSON.stringify(config, null, 2));
  }
  return { files, size: tokenizerSize(text, path) };
}

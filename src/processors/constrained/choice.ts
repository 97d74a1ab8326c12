/**
 * `choice`: the output must be exactly one of the given strings — T5 used as a classifier.
 */
import { defineProcessor } from '../define-processor.js';
import type { LogitsProcessor, StaticContext, StepContext } from '../types.js';

/** A trie node over token ids; `complete` marks the end of a whole choice. */
interface TrieNode {
  readonly children: Map<number, TrieNode>;
  complete: boolean;
  /** The ids allowed after this node: its children, and EOS when it completes a choice. */
  allowed: Int32Array;
}

function newNode(): TrieNode {
  return { children: new Map(), complete: false, allowed: new Int32Array(0) };
}

function fillAllowed(node: TrieNode, eosTokenId: number): void {
  const ids = [...node.children.keys()];
  if (node.complete) ids.push(eosTokenId);
  node.allowed = Int32Array.from(ids);
  for (const child of node.children.values()) fillAllowed(child, eosTokenId);
}

/**
 * Builds a token trie over the tokenizer's encoding of each choice (without `</s>`). At each step the
 * generated tokens (the history after the decoder prompt) are walked down the trie; only the children of the
 * node reached may be chosen, and EOS only when that node ends a complete choice. A choice that is a prefix of
 * another (e.g. "yes" and "yes sir") allows both EOS and the continuation.
 *
 * Only each choice's own tokenization is allowed: the same string spelled with other tokens is not.
 * Generated tokens that leave the trie (a client forced one) leave nothing to choose, which ends the stream
 * with an error naming this processor rather than producing text outside the choices.
 */
export class ChoiceProcessor implements LogitsProcessor {
  readonly name = 'choice';
  private readonly root: TrieNode;
  private readonly saved: Float32Array;

  constructor(
    encodedChoices: readonly (readonly number[])[],
    eosTokenId: number,
    private readonly promptLength: number,
  ) {
    this.root = newNode();
    for (const ids of encodedChoices) {
      let node = this.root;
      for (const id of ids) {
        let child = node.children.get(id);
        if (child === undefined) node.children.set(id, (child = newNode()));
        node = child;
      }
      node.complete = true;
    }
    fillAllowed(this.root, eosTokenId);
    let widest = 1;
    for (const count of allowedCounts(this.root)) widest = Math.max(widest, count);
    this.saved = new Float32Array(widest);
  }

  apply(row: Float32Array, { history }: StepContext): void {
    let node: TrieNode | undefined = this.root;
    for (let i = this.promptLength; i < history.length && node !== undefined; i++) node = node.children.get(history[i]!);
    if (node === undefined) {
      row.fill(-Infinity);
      return;
    }
    // Keep the allowed scores aside, clear the row, put them back: O(V) with a scratch sized by the choices.
    const allowed = node.allowed;
    for (let i = 0; i < allowed.length; i++) this.saved[i] = row[allowed[i]!]!;
    row.fill(-Infinity);
    for (let i = 0; i < allowed.length; i++) row[allowed[i]!] = this.saved[i]!;
  }

  isArgmaxInvariant(): boolean {
    return false;
  }
}

function* allowedCounts(node: TrieNode): Generator<number> {
  yield node.allowed.length;
  for (const child of node.children.values()) yield* allowedCounts(child);
}

function encodeChoices(choices: readonly string[], context: StaticContext): number[][] {
  return choices.map((choice) => [...context.encodeText(choice)]);
}

export const choice = defineProcessor({
  name: 'choice',
  description:
    'The output must be exactly one of the given strings: only tokens continuing a choice may be chosen, and ' +
    'EOS only once a whole choice was generated.',
  parameters: {
    choices: {
      type: 'string_list',
      description: 'The allowed outputs.',
      required: true,
      nonEmpty: true,
    },
  },
  check(params, context, reject) {
    encodeChoices(params.choices, context).forEach((ids, index) => {
      if (ids.length === 0) {
        reject('choices', `\`choices[${index}]\` (${JSON.stringify(params.choices[index])}) encodes to no token`);
      }
      const outside = ids.find((id) => id < 0 || id >= context.vocabSize);
      if (outside !== undefined) {
        reject('choices', `\`choices[${index}]\` encodes to token ${outside}, outside [0, ${context.vocabSize})`);
      }
      if (ids.includes(context.eosTokenId)) {
        reject('choices', `\`choices[${index}]\` encodes to the EOS token, which would end the output early`);
      }
    });
  },
  create: (params, context) =>
    new ChoiceProcessor(encodeChoices(params.choices, context), context.eosTokenId, context.decoderPromptLength),
});

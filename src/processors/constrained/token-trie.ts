/**
 * A trie over token sequences in flat arrays: node n's children are the entries `firstChild(n)` to
 * `endOfChildren(n) - 1` of `tokens` (sorted) and of their child nodes. Built and walked without recursion,
 * so a sequence of any length fits the stack, and a few integers per node instead of a map each.
 */
export class TokenTrie {
  static readonly ROOT = 0;
  /** The node reached by a token no sequence continues with. */
  static readonly NONE = -1;

  private constructor(
    /** Where each node's children start in `tokens`, one more entry than nodes. */
    private readonly childStart: Int32Array,
    /** The token of each child entry, ascending within a node. */
    readonly tokens: Int32Array,
    /** The node of each child entry. */
    private readonly childNodes: Int32Array,
    /** Whether a sequence ends at each node. */
    private readonly ends: Uint8Array,
    /** The most children a node has. */
    readonly widestNode: number,
  ) {}

  static of(sequences: readonly (readonly number[])[]): TokenTrie {
    const children: Map<number, number>[] = [new Map()];
    const ends: number[] = [0];
    for (const sequence of sequences) {
      let node = TokenTrie.ROOT;
      for (const token of sequence) {
        let next = children[node]!.get(token);
        if (next === undefined) {
          next = children.length;
          children.push(new Map());
          ends.push(0);
          children[node]!.set(token, next);
        }
        node = next;
      }
      ends[node] = 1;
    }
    const childStart = new Int32Array(children.length + 1);
    const tokens = new Int32Array(children.length - 1);
    const childNodes = new Int32Array(children.length - 1);
    let widest = 0;
    let at = 0;
    children.forEach((map, node) => {
      childStart[node] = at;
      widest = Math.max(widest, map.size);
      for (const [token, child] of [...map].sort((a, b) => a[0] - b[0])) {
        tokens[at] = token;
        childNodes[at++] = child;
      }
    });
    childStart[children.length] = at;
    return new TokenTrie(childStart, tokens, childNodes, Uint8Array.from(ends), widest);
  }

  /** Number of nodes, the root included. */
  get size(): number {
    return this.ends.length;
  }

  /** The child of `node` along `token`, or `NONE`. */
  child(node: number, token: number): number {
    let low = this.childStart[node]!;
    let high = this.childStart[node + 1]! - 1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      const at = this.tokens[middle]!;
      if (at < token) low = middle + 1;
      else if (at > token) high = middle - 1;
      else return this.childNodes[middle]!;
    }
    return TokenTrie.NONE;
  }

  firstChild(node: number): number {
    return this.childStart[node]!;
  }

  endOfChildren(node: number): number {
    return this.childStart[node + 1]!;
  }

  /** Whether a whole sequence ends at `node`. */
  isComplete(node: number): boolean {
    return this.ends[node] === 1;
  }
}

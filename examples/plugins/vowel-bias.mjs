/**
 * A Stepwise processor plugin: `vowel_bias` adds a bias to every token whose text starts with a vowel.
 *
 *   npm start -- --plugin ./examples/plugins/vowel-bias.mjs
 *
 * Clients then list it with `ListProcessors` and use it like a built-in:
 *   { "name": "vowel_bias", "params": { "bias": 2.5 } }
 */

/** @param {import('../../src/processors/plugins.js').ProcessorPluginApi} api */
export function register(api) {
  api.registerProcessor(
    api.defineProcessor({
      name: 'vowel_bias',
      description: 'Adds `bias` to the score of every token whose text starts with a vowel (a, e, i, o, u, either case).',
      parameters: {
        bias: { type: 'float', description: 'Added to each matching score; negative values discourage vowels.', required: true },
      },
      create({ bias }, context) {
        // Found once per stream; each step then touches only these ids.
        const vowelIds = [];
        for (let id = 0; id < context.vocabSize; id++) {
          const piece = context.tokenString(id);
          if (piece !== undefined && !context.isSpecialToken(id) && /^▁?[aeiou]/i.test(piece)) vowelIds.push(id);
        }
        return new VowelBias(Int32Array.from(vowelIds), Math.fround(bias));
      },
    }),
  );
}

class VowelBias {
  name = 'vowel_bias';

  /**
   * @param {Int32Array} vowelIds
   * @param {number} bias
   */
  constructor(vowelIds, bias) {
    this.vowelIds = vowelIds;
    this.bias = bias;
  }

  /** @param {Float32Array} row */
  apply(row) {
    for (let i = 0; i < this.vowelIds.length; i++) row[this.vowelIds[i]] += this.bias;
  }

  isArgmaxInvariant() {
    return false;
  }
}

/** The model's special ids in their wire form (shared by `GetModelInfo` and `Started`). */
import type { SpecialTokenIds } from '../gen/stepwise/v1/stepwise.js';
import type { SpecialIds } from '../runtime/types.js';

export function specialTokenIds(ids: SpecialIds): SpecialTokenIds {
  return {
    padTokenId: ids.pad,
    eosTokenId: ids.eos,
    unkTokenId: ids.unk,
    decoderStartTokenId: ids.decoderStart,
  };
}

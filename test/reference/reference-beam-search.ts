/**
 * An independent beam search over the float64 T5 reference: a plain transcription of Hugging Face's
 * `GenerationMixin._beam_search` (transformers `generation/utils.py` @ 000034a44ef8) for a batch of one,
 * written tensor by tensor as that code reads (running and finished sequences as fixed slots, the -1e9
 * offsets, `topk` over `num_beams × vocab_size`), sharing nothing with the server's `BeamSearchScorer`.
 * The decoder is recomputed over each beam's whole history at every step (no cache to fork).
 *
 * Where `torch.topk` leaves the order of equal values open, this takes the lower flat index first.
 *
 * Usage:
 * ```ts
 * const result = referenceBeamSearch(T5Reference.load(dir), inputIds, { numBeams: 4, lengthPenalty: 1, earlyStopping: false, numReturnSequences: 2, maxNewTokens: 12 });
 * // result.sequences[i]: generated ids (EOS included); result.scores[i]: sequences_scores
 * ```
 */
import type { T5Reference } from './t5-reference.js';

export interface ReferenceBeamOptions {
  readonly numBeams: number;
  readonly lengthPenalty: number;
  readonly earlyStopping: boolean | 'never';
  readonly numReturnSequences: number;
  readonly maxNewTokens: number;
  /** Decoder prompt after the start token (default none). */
  readonly decoderPrefix?: readonly number[];
  /** Hugging Face's `logits_processor`, called on each beam's log-probabilities with its decoder history. */
  readonly processor?: (history: readonly number[], logProbs: Float64Array) => void;
}

export interface ReferenceBeamResult {
  /** Generated ids of each returned sequence (decoder prompt excluded, EOS included). */
  readonly sequences: number[][];
  /** `sequences_scores`. */
  readonly scores: number[];
  /** The live beams after each step: ids so far (decoder prompt excluded) and running scores. */
  readonly steps: { readonly tokens: number[][]; readonly scores: number[] }[];
}

/** `torch.topk(values, k)` indices, the lower index first among equal values. */
function topk(values: readonly number[], k: number): number[] {
  const order = values.map((_, i) => i);
  order.sort((a, b) => (values[b]! > values[a]! ? 1 : values[b]! < values[a]! ? -1 : a - b));
  return order.slice(0, k);
}

function logSoftmax(logits: Float64Array): Float64Array {
  let max = -Infinity;
  for (const value of logits) max = Math.max(max, value);
  let sum = 0;
  for (const value of logits) sum += Math.exp(value - max);
  const logSum = max + Math.log(sum);
  return logits.map((value) => value - logSum);
}

export function referenceBeamSearch(model: T5Reference, inputIds: readonly number[], options: ReferenceBeamOptions): ReferenceBeamResult {
  const { numBeams, lengthPenalty, earlyStopping, numReturnSequences } = options;
  const { decoderStartTokenId, eosTokenId, vocabSize } = model.config;
  const encoded = model.encode(inputIds);
  const prompt = [decoderStartTokenId, ...(options.decoderPrefix ?? [])];
  const decoderPromptLen = prompt.length;
  const maxLength = decoderPromptLen + options.maxNewTokens;
  const beamsToKeep = Math.max(2, 1 + 1) * numBeams;

  let runningSequences = Array.from({ length: numBeams }, () => [...prompt]);
  let runningBeamScores = Array.from({ length: numBeams }, (_, i): number => (i === 0 ? 0 : -1e9));
  let sequences = Array.from({ length: numBeams }, () => [...prompt]);
  let beamScores = Array.from({ length: numBeams }, () => -1e9);
  let isSentFinished = Array.from({ length: numBeams }, () => false);
  let isEarlyStopHeuristicUnsatisfied = true;
  let curLen = decoderPromptLen;
  const steps: ReferenceBeamResult['steps'] = [];

  for (;;) {
    // b. log-softmax, processors, plus the running scores, flattened to num_beams × vocab.
    const accumulated: number[] = [];
    for (let beam = 0; beam < numBeams; beam++) {
      const rows = model.decoderLogits(encoded, undefined, runningSequences[beam]!);
      const logProbs = logSoftmax(rows[rows.length - 1]!);
      options.processor?.(runningSequences[beam]!, logProbs);
      for (let token = 0; token < vocabSize; token++) accumulated.push(logProbs[token]! + runningBeamScores[beam]!);
    }
    // c. top-K continuations.
    const topkIndices = topk(accumulated, beamsToKeep);
    const topkLogProbs = topkIndices.map((i) => accumulated[i]!);
    const topkRunningSequences = topkIndices.map((i) => [...runningSequences[Math.floor(i / vocabSize)]!, i % vocabSize]);
    // d. stopping criteria: EOS, max length.
    const hits = topkRunningSequences.map((sequence) => sequence[sequence.length - 1] === eosTokenId || sequence.length >= maxLength);
    // e. next running beams.
    const topkRunningLogProbs = topkLogProbs.map((value, k) => value + (hits[k] ? -1.0e9 : 0));
    const nextTopk = topk(topkRunningLogProbs, numBeams);
    runningSequences = nextTopk.map((k) => topkRunningSequences[k]!);
    runningBeamScores = nextTopk.map((k) => topkRunningLogProbs[k]!);
    // f. finished beams.
    const justFinished = hits.map((hit, k) => hit && k < numBeams);
    const full = isSentFinished.every(Boolean) && earlyStopping === true;
    const finishedLogProbs = topkLogProbs.map(
      (value, k) =>
        value / (curLen + 1 - decoderPromptLen) ** lengthPenalty +
        (full ? -1.0e9 : 0) +
        (isEarlyStopHeuristicUnsatisfied ? 0 : -1.0e9) +
        (justFinished[k] ? 0 : -1.0e9),
    );
    const mergedSequences = [...sequences, ...topkRunningSequences];
    const mergedScores = [...beamScores, ...finishedLogProbs];
    const mergedFinished = [...isSentFinished, ...justFinished];
    const kept = topk(mergedScores, numBeams);
    sequences = kept.map((i) => mergedSequences[i]!);
    beamScores = kept.map((i) => mergedScores[i]!);
    isSentFinished = kept.map((i) => mergedFinished[i]!);
    steps.push({ tokens: runningSequences.map((sequence) => sequence.slice(decoderPromptLen)), scores: [...runningBeamScores] });
    // g. stop condition.
    curLen += 1;
    const bestHypotheticalLength = earlyStopping === 'never' && lengthPenalty > 0 ? maxLength - decoderPromptLen : curLen - decoderPromptLen;
    const bestPossibleRunningScore = runningBeamScores[0]! / bestHypotheticalLength ** lengthPenalty;
    const minScore = Math.min(...beamScores);
    isEarlyStopHeuristicUnsatisfied &&= isSentFinished.some((finished) => bestPossibleRunningScore > (finished ? minScore : -1.0e9));
    const existsOpenBeam = !(isSentFinished.every(Boolean) && earlyStopping === true);
    const validContinuations = !hits.every(Boolean);
    if (!(isEarlyStopHeuristicUnsatisfied && existsOpenBeam && validContinuations)) break;
  }
  return {
    sequences: sequences.slice(0, numReturnSequences).map((sequence) => sequence.slice(decoderPromptLen)),
    scores: beamScores.slice(0, numReturnSequences),
    steps,
  };
}

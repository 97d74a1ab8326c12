/**
 * The benchmark's model and inputs: a folder with the exact shapes of Hugging Face `t5-small` (random
 * weights, written once by the project's builder and cached under `.cache/models/`), and prompts of a
 * fixed token length, the same ids for every contender.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { type BuildModelOptions, ensureModel } from '../src/builder/index.js';

export const BENCH_MODEL_FOLDER = fileURLToPath(new URL('../.cache/models/t5-small-bench', import.meta.url));

/** The real t5-small tokenizer beside the project, used when present so that prompts are real text. */
const T5_SMALL_TOKENIZER = fileURLToPath(new URL('../../shared/fixtures/t5-small/tokenizer.json', import.meta.url));

/** Builds the folder if it is missing or stale; returns the options it was built with. */
export async function ensureBenchModel(): Promise<{ options: BuildModelOptions; built: boolean }> {
  const options: BuildModelOptions = existsSync(T5_SMALL_TOKENIZER)
    ? // t5-small's 32100 pieces, padded to its 32128 logits as the real export is.
      { preset: 't5-small', seed: 0, out: BENCH_MODEL_FOLDER, tokenizerPath: T5_SMALL_TOKENIZER, padVocabToMultiple: 128 }
    : { preset: 't5-small', seed: 0, out: BENCH_MODEL_FOLDER };
  const built = await ensureModel(options);
  return { options, built };
}

const SENTENCES = [
  'translate English to German: The quick brown fox jumps over the lazy dog while the farmer watches from the old wooden fence near the river.',
  'summarize: The city council met on Tuesday to discuss the new budget, which includes more money for parks, schools and public transport.',
  'translate English to French: Our train was delayed by two hours because of the snow, so we missed the concert and went to a small cafe instead.',
  'question: Where did the expedition set up its base camp? context: The expedition set up its base camp at the foot of the glacier in early May.',
  'translate English to German: Please remember to water the plants, feed the cat and lock the back door before you leave for the airport tomorrow.',
  'summarize: Researchers found that people who walk for thirty minutes every day sleep better, feel less stressed and live longer on average.',
  'translate English to Romanian: The museum opens at nine in the morning and closes at six in the evening, except on public holidays and Mondays.',
  'cola sentence: The books that the students who the teacher praised were reading are on the table in the library next to the window.',
  'translate English to German: After the meeting we will send you a detailed report with all the figures, charts and our recommendations for next year.',
  'summarize: The company announced record profits this quarter, driven by strong sales of its new phones in Asia and a rebound in Europe.',
  'translate English to French: My grandmother taught me how to bake bread when I was seven, and I still use her recipe every single weekend.',
  'stsb sentence1: A man is playing a guitar on a stage in front of a large crowd. sentence2: A musician performs a song for many people.',
  'translate English to German: The hotel room was small but clean, the staff were friendly, and the breakfast was better than we had expected.',
  'summarize: Heavy rain caused flooding in several villages overnight, forcing hundreds of families to leave their homes and closing main roads.',
  'translate English to Romanian: We are looking for a software engineer with experience in distributed systems, databases and cloud infrastructure.',
  'question: What is the capital of Australia? context: Many people think it is Sydney, but the capital of Australia is Canberra, a planned city.',
];

/**
 * `count` prompts of exactly `length` ids each, ending with `</s>` (as Hugging Face's T5 tokenizer
 * ends every input): each sentence's ids, cut or repeated to fit.
 */
export function benchPrompts(encode: (text: string) => number[], eos: number, count: number, length: number): number[][] {
  return Array.from({ length: count }, (_, index) => {
    const body = encode(SENTENCES[index % SENTENCES.length]!).filter((id) => id !== eos);
    const ids: number[] = [];
    while (ids.length < length - 1) ids.push(body[ids.length % body.length]!);
    return [...ids, eos];
  });
}

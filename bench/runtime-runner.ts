/**
 * Stepwise's runtime without its server: the model on its worker thread behind the step scheduler,
 * driven from this process by the same greedy loop as the floor (argmax with EOS excluded). Set beside
 * the floor and the gRPC contenders, it tells the cost of the thread hop and of the scheduling apart
 * from the cost of serving (selection, log-probabilities, messages).
 */
import {
  type LoadModelOptions,
  loadWorkerModel,
  type ModelRuntime,
  type SchedulerStats,
  StepScheduler,
} from '../src/runtime/index.js';
import { argmaxExcept, type FloorRun } from './floor-loop.js';

export class RuntimeRunner {
  private constructor(private readonly model: StepScheduler) {}

  static async open(dir: string, load: LoadModelOptions): Promise<RuntimeRunner> {
    return new RuntimeRunner(new StepScheduler(await loadWorkerModel(dir, load)));
  }

  get stats(): SchedulerStats {
    return this.model.stats;
  }

  /** Every prompt decoded at once, each by its own loop, as a server's streams are. */
  async generate(prompts: readonly (readonly number[])[], newTokens: number): Promise<FloorRun> {
    const started = performance.now();
    const tokens = await Promise.all(prompts.map((prompt) => decode(this.model, prompt, newTokens)));
    return { tokens, ms: performance.now() - started };
  }

  dispose(): Promise<void> {
    return this.model.dispose();
  }
}

export async function decode(model: ModelRuntime, prompt: readonly number[], newTokens: number): Promise<number[]> {
  const [encoded] = await model.encode([prompt]);
  const state = model.createState(encoded!);
  const eos = model.info.specialIds.eos;
  const tokens: number[] = [];
  try {
    for (let step = 0; step < newTokens; step++) {
      const [row] = await model.step([state]);
      const token = argmaxExcept(row!, 0, row!.length, eos);
      tokens.push(token);
      state.append(token);
    }
  } finally {
    state.dispose();
  }
  return tokens;
}


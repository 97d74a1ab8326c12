/**
 * The messages of one step that are not sent yet, in order, each built when its turn comes (a message is
 * encoded as it is sent, so it can view buffers that change at the next step).
 */
import type { SessionMessage } from './session-wire.js';

/** Writes one message (encoding it at once) and resolves when the stream can take the next. */
export type SendMessage = (message: SessionMessage) => Promise<void>;

export class StepMessages {
  private readonly queue: Array<() => SessionMessage> = [];

  constructor(private readonly send: SendMessage) {}

  add(build: () => SessionMessage): void {
    this.queue.push(build);
  }

  /** Sends every queued message, in order, each once the stream can take it. */
  async flush(): Promise<void> {
    for (let build = this.queue.shift(); build !== undefined; build = this.queue.shift()) await this.send(build());
  }

  /**
   * Runs `work`; when it throws, the messages not sent yet go out first (the client sees the step it was
   * answering), then the error.
   */
  async sentFirstOnError<T>(work: () => T | Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      await this.flush();
      throw error;
    }
  }
}

/**
 * Small promise helpers over the generated grpc-js client, so tests read as the protocol: open a `Decode`
 * stream, wait for the next message, answer a step; collect a whole `Generate` stream; call a unary RPC.
 */
import { status as Status, type ClientDuplexStream, type ServiceError } from '@grpc/grpc-js';
import {
  DecodeRequest,
  DetokenizeRequest,
  GenerateRequest,
  GetModelInfoRequest,
  ListModelsRequest,
  type ListModelsResponse,
  ListProcessorsRequest,
  ScoreBatchRequest,
  ScoreRequest,
  Start,
  StepDecision,
  TokenizeRequest,
  type DecodeResponse,
  type DetokenizeResponse,
  type GenerateResponse,
  type GetModelInfoResponse,
  type ListProcessorsResponse,
  type ScoreBatchResponse,
  type ScoreResponse,
  type StepwiseServiceClient,
  type TokenizeResponse,
} from '../../src/gen/stepwise/v1/stepwise.js';

export type StartInput = Parameters<typeof Start.fromPartial>[0];
export type DecisionInput = Parameters<typeof StepDecision.fromPartial>[0];
type ResponseMessage = NonNullable<DecodeResponse['message']>;
type ResponseValue<K extends ResponseMessage['$case']> = Extract<ResponseMessage, { $case: K }>['value'];

/** The final status of a call: OK, or the error's code and message. */
export interface CallStatus {
  readonly code: Status;
  readonly details: string;
}

/** One `Decode` stream, read message by message. */
export class DecodeStream {
  private readonly queue: DecodeResponse[] = [];
  private waiters: Array<() => void> = [];
  private ended: CallStatus | undefined;
  /** Resolves with the final status (OK or the error). */
  readonly status: Promise<CallStatus>;

  constructor(readonly call: ClientDuplexStream<DecodeRequest, DecodeResponse>) {
    call.on('data', (message: DecodeResponse) => {
      this.queue.push(message);
      this.wake();
    });
    this.status = new Promise((resolve) => {
      const end = (status: CallStatus): void => {
        this.ended ??= status;
        resolve(this.ended);
        this.wake();
      };
      call.on('error', (error: ServiceError) => end({ code: error.code, details: error.details }));
      call.on('status', (status: CallStatus) => {
        if (status.code === Status.OK) end({ code: status.code, details: status.details });
      });
    });
  }

  static open(client: StepwiseServiceClient, options: { deadline?: Date } = {}): DecodeStream {
    return new DecodeStream(client.decode({ deadline: options.deadline }));
  }

  send(request: Parameters<typeof DecodeRequest.fromPartial>[0]): void {
    this.call.write(DecodeRequest.fromPartial(request));
  }

  start(start: StartInput): void {
    this.call.write({ message: { $case: 'start', value: Start.fromPartial(start) } });
  }

  decide(decision: DecisionInput): void {
    this.call.write({ message: { $case: 'decision', value: StepDecision.fromPartial(decision) } });
  }

  stop(): void {
    this.call.write({ message: { $case: 'stop', value: { branch: 0 } } });
  }

  /** The next message, or `undefined` once the call ended without more. */
  async next(): Promise<DecodeResponse | undefined> {
    for (;;) {
      const message = this.queue.shift();
      if (message !== undefined) return message;
      if (this.ended !== undefined) return undefined;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** The next message, which must be of `kind`. */
  async expect<K extends ResponseMessage['$case']>(kind: K): Promise<ResponseValue<K>> {
    const message = (await this.next())?.message;
    if (message?.$case !== kind) {
      const got = message === undefined ? `the end of the stream (${JSON.stringify(this.ended)})` : `\`${message.$case}\``;
      throw new Error(`expected \`${kind}\`, got ${got}`);
    }
    return message.value as ResponseValue<K>;
  }

  /** Every remaining message until the call ends, then its status. */
  async drain(): Promise<{ messages: ResponseMessage[]; status: CallStatus }> {
    const messages: ResponseMessage[] = [];
    for (let response = await this.next(); response !== undefined; response = await this.next()) {
      if (response.message !== undefined) messages.push(response.message);
    }
    return { messages, status: await this.status };
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

/** Runs a whole `Generate` call; resolves with its messages and final status. */
export function generateAll(
  client: StepwiseServiceClient,
  start: StartInput,
  options: { deadline?: Date } = {},
): Promise<{ messages: NonNullable<GenerateResponse['message']>[]; status: CallStatus }> {
  return new Promise((resolve) => {
    const call = client.generate(GenerateRequest.fromPartial({ start }), { deadline: options.deadline });
    const messages: NonNullable<GenerateResponse['message']>[] = [];
    call.on('data', (response: GenerateResponse) => {
      if (response.message !== undefined) messages.push(response.message);
    });
    call.on('error', (error: ServiceError) => resolve({ messages, status: { code: error.code, details: error.details } }));
    call.on('status', (status: CallStatus) => {
      if (status.code === Status.OK) resolve({ messages, status: { code: status.code, details: status.details } });
    });
  });
}

/** The unary RPCs: request codec and response type of each. */
const UNARY_REQUESTS = {
  getModelInfo: GetModelInfoRequest,
  listProcessors: ListProcessorsRequest,
  tokenize: TokenizeRequest,
  detokenize: DetokenizeRequest,
  score: ScoreRequest,
  scoreBatch: ScoreBatchRequest,
  listModels: ListModelsRequest,
};
interface UnaryResponses {
  getModelInfo: GetModelInfoResponse;
  listProcessors: ListProcessorsResponse;
  tokenize: TokenizeResponse;
  detokenize: DetokenizeResponse;
  score: ScoreResponse;
  scoreBatch: ScoreBatchResponse;
  listModels: ListModelsResponse;
}
type UnaryMethod = keyof UnaryResponses;

/** Calls the unary RPC `method` of `client` with a partial request (defaults filled) as a promise. */
export function unary<M extends UnaryMethod>(
  client: StepwiseServiceClient,
  method: M,
  request: Parameters<(typeof UNARY_REQUESTS)[M]['fromPartial']>[0],
): Promise<UnaryResponses[M]> {
  const codec = UNARY_REQUESTS[method] as { fromPartial(partial: unknown): unknown };
  const call = client[method] as unknown as (
    request: unknown,
    callback: (error: ServiceError | null, response: UnaryResponses[M]) => void,
  ) => unknown;
  return new Promise((resolve, reject) => {
    call.call(client, codec.fromPartial(request), (error, response) => (error ? reject(error) : resolve(response)));
  });
}

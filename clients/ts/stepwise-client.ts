/**
 * The TypeScript client of a Stepwise server.
 *
 * ```ts
 * const client = new StepwiseClient('127.0.0.1:50051');
 * // a secured server: TLS (with a client certificate for mutual TLS) and a bearer token
 * const secured = new StepwiseClient('models.example.com:443', { tls: { caFile: 'ca.pem' }, token: process.env.STEPWISE_TOKEN });
 * const info = await client.getModelInfo();
 * const models = await client.listModels();   // a server started with several --model NAME=DIR
 * const flan = await client.tokenize('Hello', true, { model: 'flan' });
 * const run = client.decode({ text: 'translate English to German: The house is wonderful.' }, () => accept());
 * for await (const step of run) console.log(step.step, step.token.text);
 * const scored = await client.score({ text: 'translate English to German: The house is wonderful.', targets: ['Das Haus ist wunderbar.'] });
 * console.log(scored.results[0].logprobSum);
 * client.close();
 * ```
 */
import {
  Metadata,
  type CallOptions,
  type ChannelCredentials,
  type ChannelOptions,
  type ClientUnaryCall,
  type Interceptor,
  type ServiceError,
} from '@grpc/grpc-js';
import { callFailure, cancelOnAbort, toGrpcCallOptions, type ModelCallOptions, type StepwiseCallOptions } from './call-options.js';
import { bearerTokenInterceptor, channelCredentials, defaultServer, defaultToken, type ClientTls } from './channel-security.js';
import { accept } from './decisions.js';
import { toDecodeEvent, type DecodeEvent } from './decode-events.js';
import { DecodeSession } from './decode-session.js';
import { keepErrorsInTheCall, readEventStream } from './event-stream.js';
import { LockstepDecode, type DecideStep } from './lockstep-decode.js';
import {
  StepwiseServiceClient,
  type GenerateResponse,
  type DetokenizeResponse,
  type GetModelInfoResponse,
  type ListModelsResponse,
  type ListProcessorsResponse,
  type ModelDescription,
  type ProcessorDescription,
  type ScoreBatchResponse,
  type ScoreResponse,
  type TokenizeResponse,
} from './proto.js';
import { toScoreRequest, toScoreResult, type ScoreInput, type ScoreResult } from './score.js';
import { toStartMessage, type DecodeStart } from './start-options.js';

export interface StepwiseClientOptions {
  /** TLS (CA file, client certificate and key); default: plaintext, as `npm start` serves on localhost. */
  readonly tls?: ClientTls;
  /**
   * Bearer token sent with every call (`serve --auth-token-file`); default `$STEPWISE_TOKEN`, none when
   * unset or empty (`''` sends none whatever the environment says).
   */
  readonly token?: string;
  /** grpc-js channel credentials, for anything `tls` does not cover; they replace `tls`. */
  readonly credentials?: ChannelCredentials;
  /**
   * grpc-js channel options, e.g. `{ 'grpc.max_receive_message_length': 64 << 20 }`; they override
   * `DEFAULT_CHANNEL_OPTIONS`.
   */
  readonly channelOptions?: ChannelOptions;
}

/**
 * What this client sets unless told otherwise. A step's raw logits are a 128 KiB message for a 32k
 * vocabulary, twice grpc-js's default HTTP/2 flow-control window (64 KiB): the server would send half a
 * row, then wait for this client to read it and grant more. A 4 MiB window lets every step arrive in one
 * go, with no flow-control round trip in the middle of a step (what LOCKSTEP gained: bench/README.md).
 */
export const DEFAULT_CHANNEL_OPTIONS: ChannelOptions = { 'grpc-node.flow_control_window': 4 << 20 };

export class StepwiseClient {
  /** The generated grpc-js client, for anything this class does not wrap. */
  readonly stub: StepwiseServiceClient;

  /** `address` is `HOST:PORT`; default `$STEPWISE_SERVER`, else 127.0.0.1:50051. */
  constructor(address: string = defaultServer(), options: StepwiseClientOptions = {}) {
    const token = options.token ?? defaultToken();
    const channelOptions = { ...DEFAULT_CHANNEL_OPTIONS, ...options.channelOptions };
    if (token) channelOptions.interceptors = [bearerTokenInterceptor(token), ...((channelOptions.interceptors as Interceptor[] | undefined) ?? [])];
    this.stub = new StepwiseServiceClient(address, options.credentials ?? channelCredentials(options.tls), channelOptions);
  }

  /** Opens a `Decode` stream and sends its start; read it with `for await`, answer steps with its methods. */
  openDecode(start: DecodeStart, options: StepwiseCallOptions = {}): DecodeSession {
    const startMessage = toStartMessage(start); // validate before opening a call
    const call = this.stub.decode(toGrpcCallOptions(options));
    keepErrorsInTheCall(call);
    const session = new DecodeSession(call, options, cancelOnAbort(call, options.signal));
    call.write({ message: { $case: 'start', value: startMessage } });
    return session;
  }

  /** A lockstep decode in which `decide` answers every step (default: accept the server's selection). */
  decode(start: DecodeStart, decide: DecideStep = () => accept(), options: StepwiseCallOptions = {}): LockstepDecode {
    if (start.mode === 'auto') throw new RangeError('decode(start, decide) runs in lockstep mode; given mode auto');
    return new LockstepDecode(this.openDecode({ ...start, mode: 'lockstep' }, options), decide);
  }

  /** A `Generate` stream (auto mode): the same events as a decode, no decisions. */
  generate(start: DecodeStart, options: StepwiseCallOptions = {}): AsyncIterable<DecodeEvent> {
    if (start.mode === 'lockstep') throw new RangeError('generate runs in auto mode; given mode lockstep');
    const request = { start: toStartMessage({ ...start, mode: undefined }) };
    const call = this.stub.generate(request, toGrpcCallOptions(options));
    keepErrorsInTheCall(call);
    const stopListening = cancelOnAbort(call, options.signal);
    return readEventStream<GenerateResponse>('Generate', call, options.signal, stopListening, (response) =>
      toDecodeEvent(response, false),
    );
  }

  /** A served model (`options.model`, else the default): name, vocabulary size, special ids, limits, architecture, files. */
  getModelInfo(options: ModelCallOptions = {}): Promise<GetModelInfoResponse> {
    return this.unary<GetModelInfoResponse>('GetModelInfo', options, (grpcOptions, callback) =>
      this.stub.getModelInfo({ model: options.model ?? '' }, new Metadata(), grpcOptions, callback),
    );
  }

  /** Every served model, the default first: its name, whether it is the default, and its `getModelInfo`. */
  async listModels(options: StepwiseCallOptions = {}): Promise<ModelDescription[]> {
    const response = await this.unary<ListModelsResponse>('ListModels', options, (grpcOptions, callback) =>
      this.stub.listModels({}, new Metadata(), grpcOptions, callback),
    );
    return response.models;
  }

  /** Every registered processor with its parameters. */
  async listProcessors(options: StepwiseCallOptions = {}): Promise<ProcessorDescription[]> {
    const response = await this.unary<ListProcessorsResponse>('ListProcessors', options, (grpcOptions, callback) =>
      this.stub.listProcessors({}, new Metadata(), grpcOptions, callback),
    );
    return response.processors;
  }

  /**
   * Token ids (and vocabulary strings) of `text` by a model's tokenizer (`options.model`, else the default's);
   * `</s>` is appended unless `addSpecialTokens` is false.
   */
  tokenize(text: string, addSpecialTokens?: boolean, options: ModelCallOptions = {}): Promise<TokenizeResponse> {
    return this.unary<TokenizeResponse>('Tokenize', options, (grpcOptions, callback) =>
      this.stub.tokenize({ text, addSpecialTokens, model: options.model ?? '' }, new Metadata(), grpcOptions, callback),
    );
  }

  /** The text of `tokenIds`, by a model's tokenizer (`options.model`, else the default's). */
  async detokenize(tokenIds: readonly number[], skipSpecialTokens = false, options: ModelCallOptions = {}): Promise<string> {
    const response = await this.unary<DetokenizeResponse>('Detokenize', options, (grpcOptions, callback) =>
      this.stub.detokenize({ tokenIds: [...tokenIds], skipSpecialTokens, model: options.model ?? '' }, new Metadata(), grpcOptions, callback),
    );
    return response.text;
  }

  /**
   * Scores `input.targets` after `input.text` (or `inputIds`) in one teacher-forced pass: each target token's
   * raw log-probability, rank and, when asked, alternatives, entropy and raw logits; each target's sum and
   * mean. The numbers a `Decode` that forces each target reports.
   */
  async score(input: ScoreInput, options: StepwiseCallOptions = {}): Promise<ScoreResult> {
    const request = toScoreRequest(input); // validate before opening a call
    const response = await this.unary<ScoreResponse>('Score', options, (grpcOptions, callback) =>
      this.stub.score(request, new Metadata(), grpcOptions, callback),
    );
    return toScoreResult(response);
  }

  /** `score` for several inputs in one call (their encoder and decoder runs shared); one result per input, in order. */
  async scoreBatch(inputs: readonly ScoreInput[], options: StepwiseCallOptions = {}): Promise<ScoreResult[]> {
    const requests = inputs.map(toScoreRequest);
    const response = await this.unary<ScoreBatchResponse>('ScoreBatch', options, (grpcOptions, callback) =>
      this.stub.scoreBatch({ requests }, new Metadata(), grpcOptions, callback),
    );
    return response.responses.map(toScoreResult);
  }

  /** Closes the channel; calls in flight fail. */
  close(): void {
    this.stub.close();
  }

  private unary<Response>(
    rpc: string,
    options: StepwiseCallOptions,
    invoke: (
      grpcOptions: Partial<CallOptions>,
      callback: (error: ServiceError | null, response: Response) => void,
    ) => ClientUnaryCall,
  ): Promise<Response> {
    return new Promise((resolve, reject) => {
      let stopListening = (): void => {};
      const call = invoke(toGrpcCallOptions(options), (error, response) => {
        stopListening();
        if (error) reject(callFailure(rpc, error, options.signal));
        else resolve(response);
      });
      stopListening = cancelOnAbort(call, options.signal);
    });
  }
}

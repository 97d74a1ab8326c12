/**
 * The service definition the server registers: the generated one, with three changes that only the server
 * side needs.
 *
 * - Streamed responses are written already encoded (`Buffer`). A step message views buffers that change
 *   at the next step (the runtime's logits row, the stream's working copy); grpc-js serializes a message
 *   only when its turn to be sent comes, which can be after the next step started. Encoding at write time
 *   fixes the bytes at once, so the views need no defensive copy.
 * - The response encoder hears of each response grpc-js serializes (envelopes over reused memory return
 *   to it once grpc-js has copied them).
 * - A request whose bytes do not decode reaches the handler as a `MalformedRequest`, which it answers with
 *   INVALID_ARGUMENT naming the message type; grpc-js on its own would answer INTERNAL.
 */
import type { BinaryReader, BinaryWriter } from '@bufbuild/protobuf/wire';
import {
  DecodeRequest,
  DetokenizeRequest,
  GenerateRequest,
  GetModelInfoRequest,
  ListModelsRequest,
  ListProcessorsRequest,
  ScoreBatchRequest,
  ScoreRequest,
  StepwiseServiceService,
  TokenizeRequest,
} from '../gen/stepwise/v1/stepwise.js';
import type { ResponseEncoder } from './response-encoder.js';
import { invalidArgument } from './status.js';

/** A client message that was not a valid encoding of the expected type. */
export class MalformedRequest {
  constructor(
    /** Fully qualified proto name of the expected type. */
    readonly typeName: string,
    /** What the decoder reported. */
    readonly reason: string,
  ) {}
}

/** The error for a request whose bytes did not decode as its type (INVALID_ARGUMENT). */
export function malformedRequestError(request: MalformedRequest): Error {
  return invalidArgument(`the request is not a valid ${request.typeName}: ${request.reason}`);
}

interface MessageCodec<T> {
  encode(message: T, writer?: BinaryWriter): BinaryWriter;
  decode(input: BinaryReader | Uint8Array, length?: number): T;
}

/** Encodes a message into a Buffer over the encoder's own bytes (no further copy). */
export function encodeMessage<T>(codec: MessageCodec<T>, message: T): Buffer {
  const bytes = codec.encode(message).finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function decodeOrMark<T>(codec: MessageCodec<T>, typeName: string): (bytes: Buffer) => T | MalformedRequest {
  return (bytes) => {
    try {
      return codec.decode(bytes);
    } catch (error) {
      return new MalformedRequest(typeName, error instanceof Error ? error.message : String(error));
    }
  };
}

/**
 * The service definition one server registers. Responses of the streaming RPCs are encoded already;
 * grpc-js copies them into its frame right after `serialized` is told (`ResponseEncoder`).
 */
export function stepwiseServerDefinition(encoder: Pick<ResponseEncoder, 'serialized'>) {
  const passEncoded = (encoded: Buffer): Buffer => {
    encoder.serialized(encoded);
    return encoded;
  };
  // The client-side halves (requestSerialize, responseDeserialize) are carried over unused: grpc-js's
  // `ServiceDefinition` type asks for them.
  const generated = StepwiseServiceService;
  return {
    decode: {
      ...generated.decode,
      requestDeserialize: decodeOrMark(DecodeRequest, 'stepwise.v1.DecodeRequest'),
      responseSerialize: passEncoded,
    },
    generate: {
      ...generated.generate,
      requestDeserialize: decodeOrMark(GenerateRequest, 'stepwise.v1.GenerateRequest'),
      responseSerialize: passEncoded,
    },
    getModelInfo: {
      ...generated.getModelInfo,
      requestDeserialize: decodeOrMark(GetModelInfoRequest, 'stepwise.v1.GetModelInfoRequest'),
    },
    listProcessors: {
      ...generated.listProcessors,
      requestDeserialize: decodeOrMark(ListProcessorsRequest, 'stepwise.v1.ListProcessorsRequest'),
    },
    tokenize: {
      ...generated.tokenize,
      requestDeserialize: decodeOrMark(TokenizeRequest, 'stepwise.v1.TokenizeRequest'),
    },
    detokenize: {
      ...generated.detokenize,
      requestDeserialize: decodeOrMark(DetokenizeRequest, 'stepwise.v1.DetokenizeRequest'),
    },
    score: {
      ...generated.score,
      requestDeserialize: decodeOrMark(ScoreRequest, 'stepwise.v1.ScoreRequest'),
    },
    scoreBatch: {
      ...generated.scoreBatch,
      requestDeserialize: decodeOrMark(ScoreBatchRequest, 'stepwise.v1.ScoreBatchRequest'),
    },
    listModels: {
      ...generated.listModels,
      requestDeserialize: decodeOrMark(ListModelsRequest, 'stepwise.v1.ListModelsRequest'),
    },
  } as const;
}

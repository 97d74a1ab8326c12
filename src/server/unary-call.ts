/**
 * The shared shape of our unary handlers: reject an undecodable request with INVALID_ARGUMENT, run the
 * handler's body, and turn whatever it throws into a status through `status.ts`.
 */
import type { sendUnaryData, ServerUnaryCall } from '@grpc/grpc-js';
import type { Logger } from './logger.js';
import { MalformedRequest, malformedRequestError } from './service-definition.js';
import { toStatusObject } from './status.js';

/** Adapts `answer(request)` to grpc-js's unary handler signature. */
export function unaryHandler<Req, Res>(
  rpcName: string,
  logger: Logger,
  answer: (request: Req) => Res,
): (call: ServerUnaryCall<Req | MalformedRequest, Res>, callback: sendUnaryData<Res>) => void {
  return (call, callback) => {
    try {
      const request = call.request;
      if (request instanceof MalformedRequest) throw malformedRequestError(request);
      callback(null, answer(request));
    } catch (error) {
      callback(toStatusObject(error, logger, rpcName));
    }
  };
}

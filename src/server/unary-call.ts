/**
 * The shared shape of our unary handlers: reject an undecodable request with INVALID_ARGUMENT, run the
 * handler's body (synchronous, or awaiting the model), and turn whatever it throws into a status through
 * `status.ts`; and, once shutdown began, refuse them with UNAVAILABLE.
 */
import type { sendUnaryData, ServerUnaryCall } from '@grpc/grpc-js';
import type { Logger } from './logger.js';
import { MalformedRequest, malformedRequestError } from './service-definition.js';
import { shuttingDown, type ShutdownSignal } from './shutdown-signal.js';
import { cancelled, toStatusObject } from './status.js';

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

/**
 * `unaryHandler` for an answer that takes a while (it awaits the model): `signal` is raised when the
 * client cancels or the deadline passes, and the work stops; the call then ends with CANCELLED.
 */
export function asyncUnaryHandler<Req, Res>(
  rpcName: string,
  logger: Logger,
  answer: (request: Req, signal: AbortSignal) => Promise<Res>,
): (call: ServerUnaryCall<Req | MalformedRequest, Res>, callback: sendUnaryData<Res>) => void {
  return (call, callback) => {
    const controller = new AbortController();
    // grpc-js also emits 'cancelled' after a successful answer; by then nobody listens.
    const onCancelled = (): void => controller.abort(cancelled(`the client cancelled the ${rpcName} call, or its deadline passed`));
    call.once('cancelled', onCancelled);
    const respond = async (): Promise<Res> => {
      const request = call.request;
      if (request instanceof MalformedRequest) throw malformedRequestError(request);
      return answer(request, controller.signal);
    };
    respond().then(
      (response) => callback(null, response),
      (error: unknown) => callback(toStatusObject(controller.signal.aborted ? controller.signal.reason : error, logger, rpcName)),
    ).finally(() => call.off('cancelled', onCancelled));
  };
}

/** Wraps a unary handler so that calls arriving once shutdown began are refused with UNAVAILABLE. */
export function refusedWhileDraining<H extends (call: ServerUnaryCall<any, any>, callback: sendUnaryData<any>) => void>(
  handle: H,
  shutdown: ShutdownSignal,
  logger: Logger,
): H {
  const gated = (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>): void => {
    if (shutdown.draining) callback(toStatusObject(shuttingDown(), logger, 'unary call'));
    else handle(call, callback);
  };
  return gated as H;
}

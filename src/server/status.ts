/**
 * The one place that decides which gRPC status leaves the process for an error.
 *
 * - A `ServerError` keeps the code it was raised with (validation, protocol violations, limits, waits
 *   that ran out).
 * - The runtime's and the processors' deliberate errors keep their meaning: invalid input →
 *   INVALID_ARGUMENT, reaching past what a state holds → OUT_OF_RANGE, a state that cannot do this now →
 *   FAILED_PRECONDITION, a model whose thread stopped (restarting or down) → UNAVAILABLE, a processor
 *   parameter, name or pipeline change the processors reject (with the request field it came from,
 *   `RequestFieldError`) → INVALID_ARGUMENT, a pipeline that removed every token → FAILED_PRECONDITION.
 *
 * No other module builds a `ServerError` with a code of its own: they call the helpers below.
 * - Anything else is a bug: the client gets INTERNAL with a generic message, the cause (with its stack)
 *   goes to the log and never onto the wire.
 */
import { Metadata, status as Status, type StatusObject } from '@grpc/grpc-js';
import { EmptyDistributionError, isPipelineRefusal, RequestFieldError } from '../processors/errors.js';
import { InvalidInputError, ModelUnavailableError, OutOfRangeError, StateError } from '../runtime/errors.js';
import type { Logger } from './logger.js';

/** An error whose gRPC code is decided where it is raised; its message goes to the client as is. */
export class ServerError extends Error {
  override readonly name = 'ServerError';

  constructor(
    readonly code: Status,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export const invalidArgument = (message: string): ServerError => new ServerError(Status.INVALID_ARGUMENT, message);
export const failedPrecondition = (message: string): ServerError =>
  new ServerError(Status.FAILED_PRECONDITION, message);
export const outOfRange = (message: string): ServerError => new ServerError(Status.OUT_OF_RANGE, message);
export const resourceExhausted = (message: string): ServerError =>
  new ServerError(Status.RESOURCE_EXHAUSTED, message);
export const unavailable = (message: string): ServerError => new ServerError(Status.UNAVAILABLE, message);
export const deadlineExceeded = (message: string): ServerError => new ServerError(Status.DEADLINE_EXCEEDED, message);
export const cancelled = (message: string): ServerError => new ServerError(Status.CANCELLED, message);
export const notFound = (message: string): ServerError => new ServerError(Status.NOT_FOUND, message);

/**
 * Longest status message sent, in characters. Messages quote client input (names, values), which the
 * modules that raise them cut short; this bound holds whatever they miss, so no answer is rejected by a
 * client for oversized metadata (grpcio's default limit is 8 KiB).
 */
export const MAX_STATUS_MESSAGE_LENGTH = 1024;

/** `details` cut to `MAX_STATUS_MESSAGE_LENGTH`, saying how long it was. */
function withinMessageBound(details: string): string {
  if (details.length <= MAX_STATUS_MESSAGE_LENGTH) return details;
  return `${details.slice(0, MAX_STATUS_MESSAGE_LENGTH - 60)}… (message cut; ${details.length} characters)`;
}

/** The message a client sees for an error that is not one of ours. */
export const INTERNAL_ERROR_MESSAGE = 'internal error; the server log has the details';

/** The code and client-facing message for a known error, or `undefined` for an unexpected one. */
function knownStatus(error: unknown): { code: Status; details: string } | undefined {
  if (error instanceof ServerError) return { code: error.code, details: error.message };
  if (error instanceof InvalidInputError) return { code: Status.INVALID_ARGUMENT, details: error.message };
  if (error instanceof OutOfRangeError) return { code: Status.OUT_OF_RANGE, details: error.message };
  if (error instanceof StateError) return { code: Status.FAILED_PRECONDITION, details: error.message };
  if (error instanceof ModelUnavailableError) return { code: Status.UNAVAILABLE, details: error.message };
  if (error instanceof RequestFieldError || isPipelineRefusal(error)) return { code: Status.INVALID_ARGUMENT, details: error.message };
  if (error instanceof EmptyDistributionError) return { code: Status.FAILED_PRECONDITION, details: error.message };
  return undefined;
}

/**
 * The status to end a call with. `where` names the RPC (and stream) for the log line written when the
 * error is unexpected.
 */
export function toStatusObject(error: unknown, logger: Logger, where: string): StatusObject {
  const known = knownStatus(error);
  if (known) return { code: known.code, details: withinMessageBound(known.details), metadata: new Metadata() };
  logger.error(`${where}: unexpected error, answered INTERNAL`, error);
  return { code: Status.INTERNAL, details: INTERNAL_ERROR_MESSAGE, metadata: new Metadata() };
}

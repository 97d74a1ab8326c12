/**
 * The gRPC server's public parts: the server itself (built by the composition root, `src/composition-root.ts`),
 * its limits, its logger, and how it encodes its responses.
 */
export { StepwiseServer, type ListenAddress } from './server.js';
export { resolveServerLimits, type ServerLimits } from './server-limits.js';
export { MemoryLogger, type Logger, type LogFields } from './logger.js';
export { createLogger, PinoLogger } from './pino-logger.js';
export type { ResponseEncoding } from './response-encoder.js';

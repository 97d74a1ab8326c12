/**
 * Every dependency-injection token of the project, in one place (tsyringe `InjectionToken`s as `Symbol`s).
 * A token names a role; what fills it is decided in the composition root.
 */

/** Each registered logits-processor definition (built-ins and plugins); resolved together with `@injectAll`. */
export const PROCESSOR_DEFINITION = Symbol('ProcessorDefinition');

/** The default model (`ModelRuntime`): the first of the server's `MODEL_CATALOG`. */
export const MODEL_RUNTIME = Symbol('ModelRuntime');

/** Every model the server hosts, by name (`ModelCatalog` of `src/server/model-catalog.ts`); requests choose from it. */
export const MODEL_CATALOG = Symbol('ModelCatalog');

/** The server's limits (`ServerLimits` of `src/server/server-limits.ts`). */
export const SERVER_LIMITS = Symbol('ServerLimits');

/** How a server encodes its streams' messages (`ResponseEncoder` of `src/server/response-encoder.ts`). */
export const RESPONSE_ENCODER = Symbol('ResponseEncoder');

/** Where the server logs (`Logger` of `src/server/logger.ts`). */
export const LOGGER = Symbol('Logger');

/** How the server is secured: TLS credentials, bearer-token interceptors (`TransportSecurity` of `src/server/transport-security.ts`). */
export const TRANSPORT_SECURITY = Symbol('TransportSecurity');
/** How the server's calls and connections begin, wait and end (`LifecycleOptions` of `src/server/lifecycle-options.ts`). */
export const LIFECYCLE_OPTIONS = Symbol('LifecycleOptions');

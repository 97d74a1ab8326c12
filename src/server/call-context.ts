/**
 * The per-call context of a streaming RPC: one `AbortSignal` raised however the call ends, and the
 * cleanups to run exactly once when it does.
 *
 * A call can end in many ways and grpc-js reports them through different events: `'cancelled'` (client
 * cancel, disconnect, deadline; since grpc-js 1.10 also after a successful end), `'close'`, `'error'`,
 * `'finish'` (our own final write went out), plus the server's shutdown and the client's `Stop`. Every one
 * of them funnels into `end()`, which is idempotent, so cleanup neither runs twice nor is forgotten on a
 * path nobody thought of.
 */
import type { EventEmitter } from 'node:events';

/** Why a call's signal was raised. */
export type CallEndReason =
  /** The client cancelled or went away. */
  | 'cancelled'
  /** The call's deadline passed. */
  | 'deadline'
  /** The server is shutting down. */
  | 'shutdown'
  /** The server ended the call itself: a final message or an error status was sent. */
  | 'completed';

/** The part of a grpc-js server call the context listens to. */
export interface ObservableCall extends EventEmitter {
  getDeadline(): Date | number;
  getPeer(): string;
}

export interface CallContext {
  /** Raised when the call ends, whatever the cause; long waits (client messages, 'drain') listen to it. */
  readonly signal: AbortSignal;
  /** Why the signal was raised; `undefined` while the call is live. */
  readonly endReason: CallEndReason | undefined;
  /** Names the call in log lines, e.g. "Decode #7 (ipv4:127.0.0.1:50412)". */
  readonly label: string;
  /** Registers a cleanup that runs once when the call ends (at once if it already has). */
  onEnd(cleanup: () => void): void;
  /** Ends the context: raises the signal and runs the cleanups; later calls do nothing. */
  end(reason: CallEndReason): void;
}

/**
 * Creates the context of one call and wires every end event of `call`, and the server's shutdown signal,
 * to it. `name` names the call in log lines (e.g. "Decode #7"); the peer's address is added.
 */
export function createCallContext(call: ObservableCall, name: string, shutdown: AbortSignal): CallContext {
  const controller = new AbortController();
  const cleanups: Array<() => void> = [];
  let endReason: CallEndReason | undefined;
  const label = `${name} (${safePeer(call)})`;

  const context: CallContext = {
    signal: controller.signal,
    get endReason() {
      return endReason;
    },
    label,
    onEnd(cleanup) {
      if (endReason === undefined) cleanups.push(cleanup);
      else cleanup();
    },
    end(reason) {
      if (endReason !== undefined) return;
      endReason = reason;
      shutdown.removeEventListener('abort', onShutdown);
      controller.abort(reason);
      for (const cleanup of cleanups.splice(0)) cleanup();
    },
  };

  const onShutdown = (): void => context.end('shutdown');
  if (shutdown.aborted) context.end('shutdown');
  else shutdown.addEventListener('abort', onShutdown, { once: true });

  const onGone = (): void => context.end(deadlinePassed(call) ? 'deadline' : 'cancelled');
  call.once('cancelled', onGone);
  call.once('close', onGone);
  call.once('error', onGone);
  call.once('finish', () => context.end('completed'));
  return context;
}

function deadlinePassed(call: ObservableCall): boolean {
  const deadline = call.getDeadline();
  const at = deadline instanceof Date ? deadline.getTime() : deadline;
  return Number.isFinite(at) && Date.now() >= at;
}

function safePeer(call: ObservableCall): string {
  try {
    return call.getPeer();
  } catch {
    return 'unknown peer';
  }
}

/**
 * Signals: SIGHUP reloads the certificate; SIGINT and SIGTERM stop the
 * servers gracefully, and a second one exits at once (`Deno.exit(3)`) unless
 * the caller opts out. What happens is told to the caller's callbacks; this
 * module writes nothing itself.
 *
 * @module
 */

import { EXIT_CODE } from "../ground/exit_code.ts";
import { unreachable } from "../ground/result.ts";

/**
 * A signal that stops the server gracefully.
 *
 * @example
 * ```ts
 * const signal: ShutdownSignal = "SIGTERM";
 * ```
 */
export type ShutdownSignal = "SIGINT" | "SIGTERM";

/** The signals that stop the server. */
export const SHUTDOWN_SIGNALS: readonly ShutdownSignal[] = ["SIGINT", "SIGTERM"];

/**
 * A step of stopping: a stop signal arrived, the servers stopped, or a second signal forced the exit.
 *
 * @example Log each step
 * ```ts ignore
 * serveWithReload({ ...options, onStop: (event) => console.log(event.signal, event.phase) });
 * ```
 */
export interface StopEvent {
  /** The signal that asked for the stop, or `api` for a `shutdown()` call. */
  readonly signal: ShutdownSignal | "api";
  /** Which step this is. */
  readonly phase: "stopping" | "stopped" | "forced";
  /** At `stopped`: connections cut with requests still in flight after the grace period. */
  readonly cut?: number;
  /** At `stopped`: the grace period, in milliseconds. */
  readonly graceMs?: number;
}

/** What the signal handlers call. */
export interface SignalHandlers {
  /** Runs one (serialized) reload for SIGHUP; its outcome is reported by the caller. */
  readonly reload: () => Promise<unknown>;
  /** Stops the servers gracefully on the first SIGINT/SIGTERM. */
  readonly shutdown: (signal: ShutdownSignal) => Promise<void>;
  /** Told when a second stop signal arrives, just before the process exits. */
  readonly onForcedStop: (signal: ShutdownSignal) => void;
  /**
   * Whether a second SIGINT/SIGTERM during the stop exits the process at once with
   * `EXIT_CODE.forcedStop` (3); when `false`, it is ignored and the graceful stop goes on.
   */
  readonly exitOnSecondSignal: boolean;
}

/** Installs the SIGHUP, SIGINT and SIGTERM listeners; returns a function that removes them. */
export function installSignalHandlers(handlers: SignalHandlers): () => void {
  const onHangup = () => void handlers.reload();
  let stopping = false;
  const listeners = SHUTDOWN_SIGNALS.map((signal) => {
    const listener = () => {
      if (stopping) {
        if (!handlers.exitOnSecondSignal) return;
        handlers.onForcedStop(signal);
        Deno.exit(EXIT_CODE.forcedStop);
      }
      stopping = true;
      void handlers.shutdown(signal);
    };
    Deno.addSignalListener(signal, listener);
    return [signal, listener] as const;
  });
  Deno.addSignalListener("SIGHUP", onHangup);
  return () => {
    Deno.removeSignalListener("SIGHUP", onHangup);
    for (const [signal, listener] of listeners) Deno.removeSignalListener(signal, listener);
  };
}

/** Renders a step of a graceful stop: the signal arrived, the servers stopped, or a second signal forced the exit. */
export function formatStop(
  phase: "stopping" | "stopped" | "forced",
  cut = 0,
  graceMs = 0,
): string {
  switch (phase) {
    case "stopping":
      return "shutting down: finishing in-flight requests";
    case "stopped":
      return cut === 0
        ? "stopped"
        : `stopped; cut ${cut} connection${
          cut === 1 ? "" : "s"
        } with requests still in flight after the ${graceMs / 1000} s grace period`;
    case "forced":
      return "second stop signal received: exiting now without waiting";
    default:
      return unreachable(phase);
  }
}

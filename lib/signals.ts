/**
 * Signals: SIGHUP reloads the certificate and logs the outcome; SIGINT and
 * SIGTERM shut the servers down gracefully.
 *
 * @module
 */

import { EXIT_CODE } from "./format.ts";
import { log, logOutcome } from "./log.ts";
import type { ReloadOutcome } from "./reloader.ts";

/** The signals that stop the server. */
export const SHUTDOWN_SIGNALS = ["SIGINT", "SIGTERM"] as const;

/** One of {@linkcode SHUTDOWN_SIGNALS}. */
export type ShutdownSignal = typeof SHUTDOWN_SIGNALS[number];

/** What the signal handlers call. */
export interface SignalHandlers {
  /** Runs one (serialized) reload. */
  readonly reload: () => Promise<ReloadOutcome>;
  /** Stops the servers gracefully; resolves when they are closed. */
  readonly shutdown: (signal: ShutdownSignal) => Promise<void>;
}

/** Installs the SIGHUP, SIGINT and SIGTERM listeners; returns a function that removes them. */
export function installSignalHandlers(handlers: SignalHandlers): () => void {
  const onHangup = async () => logOutcome("SIGHUP", await handlers.reload());
  let stopping = false;
  const listeners = SHUTDOWN_SIGNALS.map((signal) => {
    const listener = () => {
      if (stopping) {
        log(signal, "second stop signal received: exiting now without waiting");
        Deno.exit(EXIT_CODE.forcedStop);
      }
      stopping = true;
      log(signal, "shutting down: finishing in-flight requests");
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

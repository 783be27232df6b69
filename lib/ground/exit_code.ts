/**
 * The process's exit codes, one per way it can end. The library's signal
 * handling and the CLI both use them. Part of the ground layer: imports nothing.
 *
 * @module
 */

/** Process exit codes, one per way the process can end. */
export const EXIT_CODE = {
  /** Shut down on SIGINT/SIGTERM after finishing in-flight requests. */
  stopped: 0,
  /** The certificate was rejected at startup, or a listen address could not be bound. */
  startupFailed: 1,
  /** The command line could not be parsed; usage was printed. */
  usage: 2,
  /** A second stop signal arrived during shutdown; in-flight requests were abandoned. */
  forcedStop: 3,
} as const;

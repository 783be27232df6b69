/**
 * The log: one line per event on standard output, each prefixed with its
 * time and what it is about (`[startup]`, `[SIGHUP]`, `[POST /reload_certs]`).
 *
 * @module
 */

import { formatLogLine, formatOutcome } from "./format.ts";
import type { ReloadOutcome } from "./reloader.ts";

/** What a log line is about. */
export type LogTag = "startup" | "SIGHUP" | "POST /reload_certs" | "SIGINT" | "SIGTERM";

/** Writes one log line to standard output. */
export function log(tag: LogTag, text: string, at: Date = new Date()): void {
  console.log(formatLogLine(at, tag, text));
}

/** Logs a reload outcome with the same text the control server answers. */
export function logOutcome(tag: LogTag, outcome: ReloadOutcome): void {
  log(tag, formatOutcome(outcome), outcome.at);
}

/**
 * The CLI's log: one line per event on standard output, each prefixed with
 * its time and what it is about (`[startup]`, `[SIGHUP]`, `[POST /reload_certs]`).
 *
 * @module
 */

import { formatLogLine, formatOutcome, formatStop } from "./format.ts";
import type { ReloadOutcome, ReloadTrigger } from "./reloader.ts";
import type { StopEvent } from "./signals.ts";

/** The log tag of each reload trigger. */
export const TRIGGER_TAG: Readonly<Record<ReloadTrigger, string>> = {
  startup: "startup",
  http: "POST /reload_certs",
  sighup: "SIGHUP",
  api: "reload()",
  watch: "watch",
};

/** Writes one log line to standard output. */
export function log(tag: string, text: string, at: Date = new Date()): void {
  console.log(formatLogLine(at, tag, text));
}

/** Logs a reload outcome, tagged by its trigger, with the same text the control server answers. */
export function logOutcome(outcome: ReloadOutcome): void {
  log(TRIGGER_TAG[outcome.trigger], formatOutcome(outcome), outcome.at);
}

/** Logs a step of a graceful stop, tagged by the signal that asked for it. */
export function logStop(event: StopEvent): void {
  log(event.signal, formatStop(event.phase));
}

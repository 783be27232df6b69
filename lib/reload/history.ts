/**
 * The reload history: the last {@linkcode HISTORY_LIMIT} outcomes (startup,
 * POST, SIGHUP, `reload()`), newest first, as `/certs` and `status` show them.
 *
 * @module
 */

import { formatOutcome } from "./outcome_words.ts";
import type { ReloadOutcome, ReloadOutcomeKind, ReloadTrigger } from "./reloader.ts";
import type { ReloadErrorKind } from "./renewal.ts";

/** How many attempts the history keeps. */
export const HISTORY_LIMIT = 20;

/** One load or reload attempt, as the history keeps it. */
export interface ReloadAttempt {
  /** When the files were read. */
  readonly at: Date;
  /** What asked for it. */
  readonly trigger: ReloadTrigger;
  /** How it ended. */
  readonly result: ReloadOutcomeKind;
  /** Why it failed, when it did. */
  readonly errorKind: ReloadErrorKind | undefined;
  /** The outcome line, exactly as the log and the control server word it. */
  readonly message: string;
  /** How long it took, in milliseconds. */
  readonly durationMs: number;
}

/** A bounded list of the latest attempts. */
export class ReloadHistory {
  readonly #attempts: ReloadAttempt[] = [];
  readonly #limit: number;

  /** Keeps at most `limit` attempts. */
  constructor(limit: number = HISTORY_LIMIT) {
    this.#limit = limit;
  }

  /** Adds an outcome; the oldest attempt goes when the history is full. */
  record(outcome: ReloadOutcome): void {
    this.#attempts.unshift({
      at: outcome.at,
      trigger: outcome.trigger,
      result: outcome.kind,
      errorKind: outcome.kind === "failed" ? outcome.error.kind : undefined,
      message: formatOutcome(outcome),
      durationMs: outcome.durationMs,
    });
    this.#attempts.length = Math.min(this.#attempts.length, this.#limit);
  }

  /** The attempts, newest first. */
  newestFirst(): readonly ReloadAttempt[] {
    return this.#attempts;
  }
}

/**
 * The CLI's log: one line per event on standard output, as text (default:
 * time, `[tag]`, the line) or as JSON lines for log shippers (`--log-format
 * json`: time, level, event, trigger, message and the certificate's fields).
 * The message is always the formatter's line, so both formats say the same.
 *
 * @module
 */

import type { Certificate } from "../certificate/certificate.ts";
import { formatNotice, type Notice, noticeLevel } from "../api/notice.ts";
import { daysLeft, formatTime } from "../ground/time.ts";
import { formatOutcome } from "../reload/outcome_words.ts";
import type { ReloadOutcome, ReloadTrigger } from "../reload/reloader.ts";
import { formatStop, type StopEvent } from "../serve/signals.ts";

/** The log formats. */
export const LOG_FORMATS = ["text", "json"] as const;

/** One of {@linkcode LOG_FORMATS}. */
export type LogFormat = typeof LOG_FORMATS[number];

/** The log tag of each reload trigger. */
export const TRIGGER_TAG: Readonly<Record<ReloadTrigger, string>> = {
  startup: "startup",
  http: "POST /reload_certs",
  sighup: "SIGHUP",
  api: "reload()",
  watch: "watch",
};

/** The log tag of each notice kind. */
const NOTICE_TAG: Readonly<Record<Notice["kind"], string>> = {
  tls_front: "startup",
  connection_migration: "startup",
  expiry: "expiry",
  watching: "watch",
  watcher_failed: "watch",
};

/** What a log line is about, for JSON's `event` field. */
type LogEvent = "startup" | "reload" | "notice" | "stop";

/** One log line, before it is written in either format. */
interface Entry {
  readonly at: Date;
  readonly tag: string;
  readonly level: "info" | "warning" | "error";
  readonly event: LogEvent;
  readonly message: string;
  readonly trigger?: ReloadTrigger;
  readonly dryRun?: boolean;
  readonly certificate?: Certificate;
}

/** Writes the CLI's log lines in one format. */
export class Log {
  readonly #format: LogFormat;

  /** Logs as text (the default) or as JSON lines. */
  constructor(format: LogFormat = "text") {
    this.#format = format;
  }

  /** Logs a startup fact, e.g. the pid or a listen address. */
  startup(text: string): void {
    this.#write({ at: new Date(), tag: "startup", level: "info", event: "startup", message: text });
  }

  /** Logs a reload outcome, tagged by its trigger (and `dry run`), with the same text the control server answers. */
  outcome(outcome: ReloadOutcome): void {
    const dryRun = outcome.kind !== "loaded" && outcome.dryRun === true;
    this.#write({
      at: outcome.at,
      tag: TRIGGER_TAG[outcome.trigger] + (dryRun ? " dry run" : ""),
      level: outcome.kind === "failed" ? (dryRun ? "warning" : "error") : "info",
      event: "reload",
      message: formatOutcome(outcome),
      trigger: outcome.trigger,
      ...(dryRun ? { dryRun } : {}),
      certificate: outcome.certificate,
    });
  }

  /** Logs a notice (front in use, connection migration, expiry, watcher). */
  notice(notice: Notice): void {
    this.#write({
      at: new Date(),
      tag: NOTICE_TAG[notice.kind],
      level: noticeLevel(notice),
      event: "notice",
      message: formatNotice(notice),
      ...(notice.kind === "expiry" ? { certificate: notice.certificate } : {}),
    });
  }

  /** Logs that the task runner that started the server is gone, so the server stops too. */
  taskGone(task: string, pid: number): void {
    this.#write({
      at: new Date(),
      tag: "task",
      level: "warning",
      event: "stop",
      message: `deno task ${task} (pid ${pid}) is gone: stopping the server with it`,
    });
  }

  /** Logs a step of a graceful stop, tagged by the signal that asked for it (or by `tag`). */
  stop(event: StopEvent, tag: string = event.signal): void {
    this.#write({
      at: new Date(),
      tag,
      level: event.phase === "forced" ? "warning" : "info",
      event: "stop",
      message: formatStop(event.phase),
    });
  }

  #write(entry: Entry): void {
    if (this.#format === "text") {
      _writeLine(formatLogLine(entry.at, entry.tag, entry.message));
      return;
    }
    const certificate = entry.certificate === undefined ? {} : {
      certificate: {
        path: entry.certificate.path,
        subject: entry.certificate.subject,
        fingerprint256: entry.certificate.fingerprint256,
        notAfter: entry.certificate.notAfter,
        daysLeft: daysLeft(entry.certificate.notAfter, entry.at),
      },
    };
    _writeLine(JSON.stringify({
      time: entry.at,
      level: entry.level,
      event: entry.event,
      ...(entry.trigger === undefined ? {} : { trigger: entry.trigger }),
      ...(entry.dryRun ? { dry_run: true } : {}),
      message: entry.message,
      ...certificate,
    }));
  }
}

const encoder = new TextEncoder();

/** Writes one line to standard output synchronously: ~3× cheaper than console.log on a pipe. */
function _writeLine(line: string): void {
  const bytes = encoder.encode(line + "\n");
  for (let written = 0; written < bytes.length;) {
    written += Deno.stdout.writeSync(bytes.subarray(written));
  }
}

/** Prefixes a line with its time and what it is about, for the log. */
export function formatLogLine(at: Date, tag: string, text: string): string {
  return `${formatTime(at)} [${tag}] ${text}`;
}

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
import { escapeControl } from "../ground/printable.ts";
import { formatOutcome } from "../reload/outcome_words.ts";
import type { ReloadOutcome, ReloadTrigger } from "../reload/reloader.ts";
import { formatStop, type StopEvent } from "../serve/signals.ts";
import { LineSink, type LineWriter } from "./line_sink.ts";

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
  descriptors: "connections",
};

/** What a log line is about, for JSON's `event` field. */
type LogEvent = "startup" | "reload" | "notice" | "stop" | "log";

/** The tag of the line that reports dropped log lines. */
const LOST_TAG = "log";

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

/** The words of the line that says how many log lines were lost, and why. */
export function formatLostLines(count: number, reason: string): string {
  return `${count} log line${count === 1 ? " was" : "s were"} dropped: they could not be ` +
    `written (${reason}); the server went on serving and reloading`;
}

/**
 * Writes the CLI's log lines in one format, through a {@linkcode LineSink}:
 * never blocking, never throwing, dropping and counting what cannot be written.
 */
export class Log {
  readonly #format: LogFormat;
  readonly #sink: LineSink;

  /** Logs as text (the default) or as JSON lines, to standard output unless told otherwise. */
  constructor(format: LogFormat = "text", writer: LineWriter = Deno.stdout) {
    this.#format = format;
    this.#sink = new LineSink(writer, (count, reason) =>
      this.#render({
        at: new Date(),
        tag: LOST_TAG,
        level: "warning",
        event: "log",
        message: formatLostLines(count, reason),
      }));
  }

  /** Log lines dropped since the start (the reader stalled or went away, or the disk was full). */
  get dropped(): number {
    return this.#sink.dropped;
  }

  /** Resolves when every line so far was written, or after `ms` milliseconds. */
  flush(ms: number): Promise<void> {
    return this.#sink.flush(ms);
  }

  /** At exit: writes what is queued synchronously, unless a write is stuck. */
  flushSync(): void {
    this.#sink.flushSync();
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
      message: formatStop(event.phase, event.cut, event.graceMs),
    });
  }

  #write(entry: Entry): void {
    try {
      this.#sink.write(this.#render(entry));
    } catch {
      // A line that cannot even be rendered must not fail the request or reload that logged it.
    }
  }

  #render(entry: Entry): string {
    if (this.#format === "text") return formatLogLine(entry.at, entry.tag, entry.message);
    const certificate = entry.certificate === undefined ? {} : {
      certificate: {
        path: entry.certificate.path,
        subject: entry.certificate.subject,
        fingerprint256: entry.certificate.fingerprint256,
        notAfter: entry.certificate.notAfter,
        daysLeft: daysLeft(entry.certificate.notAfter, entry.at),
      },
    };
    return JSON.stringify({
      time: entry.at,
      level: entry.level,
      event: entry.event,
      ...(entry.trigger === undefined ? {} : { trigger: entry.trigger }),
      ...(entry.dryRun ? { dry_run: true } : {}),
      message: entry.message,
      ...certificate,
    });
  }
}

/** Prefixes a line with its time and what it is about, for the log; control characters in it are escaped. */
export function formatLogLine(at: Date, tag: string, text: string): string {
  return `${formatTime(at)} [${tag}] ${escapeControl(text)}`;
}

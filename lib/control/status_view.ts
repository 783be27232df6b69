/**
 * The status view (`GET /certs`): the active certificate with everything an
 * operator checks, and the latest reload attempts, newest first; as plain
 * text for people and as JSON for programs. Also the JSON answer of
 * `POST /reload_certs`. Read-only renderings of the reloader's state.
 *
 * @module
 */

import { type Certificate, describeUnverified } from "../certificate/certificate.ts";
import { daysLeft, formatTime } from "../ground/time.ts";
import { escapeControl } from "../ground/printable.ts";
import { formatOutcome } from "../reload/outcome_words.ts";
import type { ReloadAttempt } from "../reload/history.ts";
import type { ActiveSince, ReloadOutcome } from "../reload/reloader.ts";
import { type EarliestExpiry, earliestExpiry, expiresSoon } from "../reload/expiry.ts";
import { type DiskState, type DiskStateName, formatDiskState } from "../reload/drift.ts";
import { describeReloadError, formatRenewalNote, type ReloadError } from "../reload/renewal.ts";

/** The active certificate as `/certs` shows it: the loader's fields, and what the server knows of it. */
export interface CertificateStatus extends
  Pick<
    Certificate,
    | "path"
    | "keyPath"
    | "subject"
    | "issuer"
    | "subjectAltNames"
    | "serialNumber"
    | "fingerprint256"
    | "notBefore"
    | "notAfter"
    | "chain"
  > {
  /** Links of the chain whose signature was not verified, worded (empty for usual chains). */
  readonly unverified: readonly string[];
  /** Whole days until `notAfter` (negative once expired). */
  readonly daysLeft: number;
  /** When it was loaded. */
  readonly loadedAt: Date;
  /** What loaded it: `startup`, `http`, `sighup`, `api` or `watch`. */
  readonly loadedBy: string;
  /** The expiry warning window, in days. */
  readonly warnDays: number;
  /** Whether its chain expires within the warning window. */
  readonly expiresSoon: boolean;
  /** The chain's certificate that expires first (position 1 is the leaf), with whole days left. */
  readonly earliestExpiry: EarliestExpiry & { readonly daysLeft: number };
}

/** What the files on disk hold, compared with what is served, as `/certs` shows it. */
export interface DiskStatus {
  /** `same`, `changed`, `invalid` or `unreadable`. */
  readonly state: DiskStateName;
  /** The line that says it, with the loader's words for why when invalid or unreadable. */
  readonly message: string;
  /** The certificate on disk, when it is another valid one (`changed`). */
  readonly certificate?: {
    readonly subject: string;
    readonly fingerprint256: string;
    readonly notAfter: Date;
  };
  /** Why the files would be refused (`invalid`, `unreadable`). */
  readonly error?: Record<string, unknown>;
}

/** The disk's state as `/certs` shows it. */
export function diskStatus(disk: DiskState, served: Certificate): DiskStatus {
  const message = formatDiskState(disk, served);
  switch (disk.state) {
    case "same":
      return { state: disk.state, message };
    case "changed": {
      const { subject, fingerprint256, notAfter } = disk.certificate;
      return { state: disk.state, message, certificate: { subject, fingerprint256, notAfter } };
    }
    case "invalid":
    case "unreadable":
      return { state: disk.state, message, error: errorJson(disk.error) };
  }
}

/** Everything `/certs` shows. */
export interface StatusView {
  /** When the view was taken. */
  readonly now: Date;
  /** The certificate being served. */
  readonly certificate: CertificateStatus;
  /** Whether the files on disk still hold what is served. */
  readonly disk: DiskStatus;
  /** The latest attempts, newest first. */
  readonly reloads: readonly ReloadAttempt[];
}

/** Takes the status view of a certificate, when and how it became active, the disk and the history. */
export function statusView(
  certificate: Certificate,
  since: ActiveSince,
  reloads: readonly ReloadAttempt[],
  now: Date,
  warnDays: number,
  disk: DiskState,
): StatusView {
  return {
    now,
    certificate: certificateStatus(certificate, since, now, warnDays),
    disk: diskStatus(disk, certificate),
    reloads,
  };
}

/** The active certificate's fields for `/certs` and for JSON answers. */
export function certificateStatus(
  certificate: Certificate,
  since: ActiveSince,
  now: Date,
  warnDays: number,
): CertificateStatus {
  const earliest = earliestExpiry(certificate);
  return {
    path: certificate.path,
    keyPath: certificate.keyPath,
    subject: certificate.subject,
    issuer: certificate.issuer,
    subjectAltNames: certificate.subjectAltNames,
    serialNumber: certificate.serialNumber,
    fingerprint256: certificate.fingerprint256,
    notBefore: certificate.notBefore,
    notAfter: certificate.notAfter,
    daysLeft: daysLeft(certificate.notAfter, now),
    chain: certificate.chain,
    unverified: certificate.unverified.map(describeUnverified),
    loadedAt: since.at,
    loadedBy: since.trigger,
    warnDays,
    expiresSoon: expiresSoon(certificate, now, warnDays),
    earliestExpiry: { ...earliest, daysLeft: daysLeft(earliest.notAfter, now) },
  };
}

/** The status view as JSON (dates in ISO 8601). */
export function statusJson(view: StatusView): string {
  return JSON.stringify(view, null, 2) + "\n";
}

/** Options of {@linkcode statusText}. */
export interface StatusTextOptions {
  /** Highlight what needs attention with ANSI colours (only for a terminal, never with NO_COLOR). */
  readonly color?: boolean;
}

const ANSI_WARNING = "\x1b[1;33m";
const ANSI_RESET = "\x1b[0m";

/**
 * The status view as plain text for people; days left stand out inside the warning window. Every
 * field from outside (paths, names, messages) has its control characters escaped.
 */
export function statusText(view: StatusView, options: StatusTextOptions = {}): string {
  const c = view.certificate;
  const e = escapeControl;
  const earliest = c.earliestExpiry;
  const inWindow = (text: string) => {
    const warned = `${text}, within the ${c.warnDays}-day warning window: renew it`;
    return options.color ? `${ANSI_WARNING}${warned}${ANSI_RESET}` : warned;
  };
  let days = _days(c.daysLeft);
  if (c.expiresSoon && earliest.position === 1) days = inWindow(days);
  const lines = [
    `certificate   ${e(c.path)}${c.keyPath === undefined ? "" : ` (key ${e(c.keyPath)})`}`,
    `subject       ${e(c.subject)}`,
    `issuer        ${e(c.issuer)}`,
    `names         ${e(c.subjectAltNames.join(", ")) || "(none)"}`,
    `serial        ${e(c.serialNumber)}`,
    `SHA-256       ${e(c.fingerprint256)}`,
    `valid         ${formatTime(c.notBefore)} to ${formatTime(c.notAfter)} (${days})`,
    `chain         ${c.chain.length} certificate${c.chain.length === 1 ? "" : "s"}` +
    (c.chain.length > 1 ? `, the first to expire is ${earliest.position}` : ""),
    ...c.chain.map((entry, index) => {
      let left = _days(daysLeft(entry.notAfter, view.now));
      if (c.expiresSoon && index + 1 === earliest.position) left = inWindow(left);
      return `  ${index + 1}. ${e(entry.subject)}, expires ${formatTime(entry.notAfter)} (${left})`;
    }),
    ...c.unverified.map((line) => `not verified  ${e(line)}`),
    `loaded        ${formatTime(c.loadedAt)} by ${e(c.loadedBy)}`,
    `disk          ${e(view.disk.message)}`,
    "",
    `last reloads, newest first (${view.reloads.length})`,
    ...view.reloads.map((attempt) =>
      `  ${formatTime(attempt.at)}  ${e(attempt.trigger).padEnd(7)} ${
        e(attempt.result).padEnd(9)
      } ` +
      `${attempt.durationMs.toFixed(1).padStart(7)} ms  ${e(attempt.message)}`
    ),
  ];
  return lines.join("\n") + "\n";
}

function _days(left: number): string {
  return left < 0 ? `expired ${-left} days ago` : `${left} days left`;
}

/**
 * The JSON answer of `POST /reload_certs`: `{ ok, outcome, dry_run, trigger, message, certificate,
 * notes?, error? }`; `certificate` is the one served after it (in a dry run, still the active one).
 */
export function reloadJson(outcome: ReloadOutcome, since: ActiveSince, warnDays: number): string {
  const error = outcome.kind === "failed" ? { error: errorJson(outcome.error) } : {};
  const notes = outcome.kind === "reloaded"
    ? { notes: outcome.notes.map((note) => ({ ...note, message: formatRenewalNote(note) })) }
    : {};
  const served = outcome.kind === "reloaded" && outcome.dryRun
    ? outcome.previous
    : outcome.certificate;
  const candidate = outcome.kind === "reloaded" && outcome.dryRun
    ? { candidate: certificateStatus(outcome.certificate, since, outcome.at, warnDays) }
    : {};
  return JSON.stringify(
    {
      ok: outcome.kind !== "failed",
      outcome: outcome.kind,
      dry_run: outcome.kind !== "loaded" && outcome.dryRun === true,
      trigger: outcome.trigger,
      message: formatOutcome(outcome),
      certificate: certificateStatus(served, since, outcome.at, warnDays),
      ...candidate,
      ...notes,
      ...error,
    },
    null,
    2,
  ) + "\n";
}

/** A reload error as JSON: its kind and fields, plus the sentence that describes it. */
export function errorJson(error: ReloadError): Record<string, unknown> {
  return { ...error, message: describeReloadError(error) };
}

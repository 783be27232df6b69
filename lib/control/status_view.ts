/**
 * The status view (`GET /certs`): the active certificate with everything an
 * operator checks, and the latest reload attempts, newest first; as plain
 * text for people and as JSON for programs. Also the JSON answer of
 * `POST /reload_certs`. Read-only renderings of the reloader's state.
 *
 * @module
 */

import type { Certificate, CertificateError } from "../certificate/certificate.ts";
import { describeError } from "../certificate/describe_error.ts";
import { daysLeft, formatTime } from "../ground/time.ts";
import { formatOutcome } from "../reload/outcome_words.ts";
import type { ReloadAttempt } from "../reload/history.ts";
import type { ActiveSince, ReloadOutcome } from "../reload/reloader.ts";
import { expiresSoon } from "../reload/expiry.ts";

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
  /** Whole days until `notAfter` (negative once expired). */
  readonly daysLeft: number;
  /** When it was loaded. */
  readonly loadedAt: Date;
  /** What loaded it: `startup`, `http`, `sighup`, `api` or `watch`. */
  readonly loadedBy: string;
  /** The expiry warning window, in days. */
  readonly warnDays: number;
  /** Whether it expires within the warning window. */
  readonly expiresSoon: boolean;
}

/** Everything `/certs` shows. */
export interface StatusView {
  /** When the view was taken. */
  readonly now: Date;
  /** The certificate being served. */
  readonly certificate: CertificateStatus;
  /** The latest attempts, newest first. */
  readonly reloads: readonly ReloadAttempt[];
}

/** Takes the status view of a certificate, when and how it became active, and the history. */
export function statusView(
  certificate: Certificate,
  since: ActiveSince,
  reloads: readonly ReloadAttempt[],
  now: Date,
  warnDays: number,
): StatusView {
  return { now, certificate: certificateStatus(certificate, since, now, warnDays), reloads };
}

/** The active certificate's fields for `/certs` and for JSON answers. */
export function certificateStatus(
  certificate: Certificate,
  since: ActiveSince,
  now: Date,
  warnDays: number,
): CertificateStatus {
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
    loadedAt: since.at,
    loadedBy: since.trigger,
    warnDays,
    expiresSoon: expiresSoon(certificate, now, warnDays),
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

/** The status view as plain text for people; days left stand out inside the warning window. */
export function statusText(view: StatusView, options: StatusTextOptions = {}): string {
  const c = view.certificate;
  let days = c.daysLeft < 0 ? `expired ${-c.daysLeft} days ago` : `${c.daysLeft} days left`;
  if (c.expiresSoon) {
    days = `${days}, within the ${c.warnDays}-day warning window: renew it`;
    if (options.color) days = `${ANSI_WARNING}${days}${ANSI_RESET}`;
  }
  const lines = [
    `certificate   ${c.path}${c.keyPath === undefined ? "" : ` (key ${c.keyPath})`}`,
    `subject       ${c.subject}`,
    `issuer        ${c.issuer}`,
    `names         ${c.subjectAltNames.join(", ") || "(none)"}`,
    `serial        ${c.serialNumber}`,
    `SHA-256       ${c.fingerprint256}`,
    `valid         ${formatTime(c.notBefore)} to ${formatTime(c.notAfter)} (${days})`,
    `chain         ${c.chain.length} certificate${c.chain.length === 1 ? "" : "s"}`,
    ...c.chain.map((entry, index) =>
      `  ${index + 1}. ${entry.subject}, expires ${formatTime(entry.notAfter)}`
    ),
    `loaded        ${formatTime(c.loadedAt)} by ${c.loadedBy}`,
    "",
    `last reloads, newest first (${view.reloads.length})`,
    ...view.reloads.map((attempt) =>
      `  ${formatTime(attempt.at)}  ${attempt.trigger.padEnd(7)} ${attempt.result.padEnd(9)} ` +
      `${attempt.durationMs.toFixed(1).padStart(7)} ms  ${attempt.message}`
    ),
  ];
  return lines.join("\n") + "\n";
}

/** The JSON answer of `POST /reload_certs`: `{ ok, outcome, trigger, message, certificate, error? }`. */
export function reloadJson(outcome: ReloadOutcome, since: ActiveSince, warnDays: number): string {
  const error = outcome.kind === "failed" ? { error: errorJson(outcome.error) } : {};
  return JSON.stringify(
    {
      ok: outcome.kind !== "failed",
      outcome: outcome.kind,
      trigger: outcome.trigger,
      message: formatOutcome(outcome),
      certificate: certificateStatus(outcome.certificate, since, outcome.at, warnDays),
      ...error,
    },
    null,
    2,
  ) + "\n";
}

/** A certificate error as JSON: its kind and fields, plus the sentence that describes it. */
export function errorJson(error: CertificateError): Record<string, unknown> {
  return { ...error, message: describeError(error) };
}

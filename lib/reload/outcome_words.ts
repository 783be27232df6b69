/**
 * The words of reload outcomes and of the active certificate's health: every
 * surface (HTTP body, log line, CLI) renders an outcome with
 * {@linkcode formatOutcome}, and one table maps outcomes to HTTP statuses and
 * exit codes, so the three cannot drift apart. Certificate errors are worded
 * beside them, in `lib/certificate/describe_error.ts`.
 *
 * @module
 */

import { type Certificate, describeUnverified } from "../certificate/certificate.ts";
import { unreachable } from "../ground/result.ts";
import { formatDaysLeft, formatTime } from "../ground/time.ts";
import { describeExpiring, earliestExpiry } from "./expiry.ts";
import type { ReloadOutcome, ReloadOutcomeKind } from "./reloader.ts";
import { describeReloadError, formatRenewalNote } from "./renewal.ts";

/** HTTP status of the control server's answer for each reload outcome. */
export const OUTCOME_HTTP_STATUS: Readonly<Record<ReloadOutcomeKind, number>> = {
  loaded: 200,
  reloaded: 200,
  unchanged: 200,
  failed: 500,
};

/** Exit code of `deno task reload` for each outcome: 0 when the certificate is good, 1 when the reload failed. */
export const OUTCOME_EXIT_CODE: Readonly<Record<ReloadOutcomeKind, number>> = {
  loaded: 0,
  reloaded: 0,
  unchanged: 0,
  failed: 1,
};

/**
 * Renders a reload outcome as the one line every surface (HTTP body, log) carries.
 *
 * @example
 * ```ts ignore
 * serveWithReload({ ...options, onReload: (outcome) => console.log(formatOutcome(outcome)) });
 * ```
 */
export function formatOutcome(outcome: ReloadOutcome): string {
  // Every surface renders the same outcome in turn (history, HTTP answer, log): render it once.
  if (outcome !== _lastFormatted.outcome) {
    _lastFormatted = { outcome, text: _renderOutcome(outcome) };
  }
  return _lastFormatted.text;
}

let _lastFormatted: { readonly outcome?: ReloadOutcome; readonly text: string } = { text: "" };

/** What a dry run's line ends with, so that it cannot pass for a reload. */
const DRY_RUN_TAIL = "; dry run: nothing was swapped or recorded";

function _renderOutcome(outcome: ReloadOutcome): string {
  switch (outcome.kind) {
    case "loaded":
      return formatLoaded(outcome.certificate, outcome.at);
    case "reloaded": {
      const notes = outcome.notes.length === 0
        ? ""
        : `; note: ${outcome.notes.map(formatRenewalNote).join("; ")}`;
      return outcome.dryRun
        ? `would reload: would serve ${describeCertificate(outcome.certificate, outcome.at)}` +
          `; would replace one that expires ${
            formatTime(outcome.previous.notAfter)
          }${notes}${DRY_RUN_TAIL}`
        : `reloaded: now serving ${describeCertificate(outcome.certificate, outcome.at)}` +
          `; it replaced one that expires ${formatTime(outcome.previous.notAfter)}${notes}`;
    }
    case "unchanged": {
      const line = `"${outcome.certificate.path}" holds the certificate already being served, ` +
        _certificateSummary(outcome.certificate, outcome.at);
      return outcome.dryRun
        ? `would be unchanged: ${line}${DRY_RUN_TAIL}`
        : `unchanged: ${line}; nothing was swapped`;
    }
    case "failed": {
      const line = `${describeReloadError(outcome.error)}; still serving the previous ` +
        `certificate ${describeCertificate(outcome.certificate, outcome.at)}`;
      return outcome.dryRun ? `would fail: ${line}${DRY_RUN_TAIL}` : `reload failed: ${line}`;
    }
    default:
      return unreachable(outcome);
  }
}

/** Renders the certificate loaded at startup. */
export function formatLoaded(certificate: Certificate, now: Date): string {
  return `loaded ${describeCertificate(certificate, now)}`;
}

/** Says which certificate this is: file, subject, names, expiry, days left and the fingerprint's start. */
export function describeCertificate(certificate: Certificate, now: Date): string {
  return `"${certificate.path}": ${_certificateSummary(certificate, now)}`;
}

/**
 * Renders the health of the active certificate: valid now, or its chain's earliest expiry passed (or
 * the leaf is not yet valid) and what to do. The earliest `notAfter` of the chain counts: an
 * expired intermediate breaks clients however long the leaf runs.
 */
export function formatHealth(
  certificate: Certificate,
  now: Date,
): { healthy: boolean; line: string } {
  const earliest = earliestExpiry(certificate);
  if (now > earliest.notAfter) {
    return {
      healthy: false,
      line: `unhealthy: ${describeExpiring(certificate, earliest)} expired at ` +
        `${formatTime(earliest.notAfter)} and is still being served; install a renewed ` +
        (earliest.position === 1 ? "certificate" : "chain") + " and reload",
    };
  }
  if (now < certificate.notBefore) {
    return {
      healthy: false,
      line: `unhealthy: certificate "${certificate.path}" (${certificate.subject}) is not valid ` +
        `before ${formatTime(certificate.notBefore)}`,
    };
  }
  return { healthy: true, line: `ok: serving ${describeCertificate(certificate, now)}` };
}

function _certificateSummary(certificate: Certificate, now: Date): string {
  const names = certificate.subjectAltNames.length > 0
    ? ` [${certificate.subjectAltNames.join(", ")}]`
    : "";
  const unverified = certificate.unverified.map((link) => `; ${describeUnverified(link)}`);
  return `${certificate.subject}${names}, expires ${formatTime(certificate.notAfter)} ` +
    `(${formatDaysLeft(certificate.notAfter, now)}), SHA-256 ${
      shortFingerprint(certificate.fingerprint256)
    }${unverified.join("")}`;
}

/** How many bytes of a fingerprint a line shows: enough to tell certificates apart at a glance. */
export const SHORT_FINGERPRINT_BYTES = 8;

/**
 * A fingerprint as lines show it: its first {@linkcode SHORT_FINGERPRINT_BYTES} bytes and `…`
 * (`56:C7:DB:4E:49:51:A3:B7…`), the way it starts in `openssl x509 -fingerprint -sha256`. The
 * whole one is in `/certs`, the JSON answers and the JSON log.
 */
export function shortFingerprint(fingerprint: string): string {
  const bytes = fingerprint.split(":");
  return bytes.length <= SHORT_FINGERPRINT_BYTES
    ? fingerprint
    : `${bytes.slice(0, SHORT_FINGERPRINT_BYTES).join(":")}…`;
}

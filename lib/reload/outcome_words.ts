/**
 * The formatter: the only place that words what an operator reads. Reload
 * outcomes, startup failures and listen failures each become one line, and
 * one table maps outcomes to HTTP statuses and exit codes, so the HTTP body,
 * the log line and the CLI cannot drift apart.
 *
 * @module
 */

import type { Certificate, CertificateError, FileRole } from "../certificate/certificate.ts";
import type { ListenError } from "../serve/listen.ts";
import type { ConnectionMigration } from "../serve/tls/native_front.ts";
import type { Notice } from "../api/notice.ts";
import type { ReloadOutcome, ReloadOutcomeKind } from "./reloader.ts";
import type { StartError, StartErrorKind } from "../api/start_error.ts";

const MS_PER_DAY = 24 * 60 * 60 * 1000;
const BYTES_PER_KIB = 1024;

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

/** Exit code of the process for each way {@linkcode serveWithReload} can fail to start. */
export const START_ERROR_EXIT_CODE: Readonly<Record<StartErrorKind, number>> = {
  invalid_option: EXIT_CODE.usage,
  certificate: EXIT_CODE.startupFailed,
  token: EXIT_CODE.startupFailed,
  pid_file: EXIT_CODE.startupFailed,
  listen: EXIT_CODE.startupFailed,
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

function _renderOutcome(outcome: ReloadOutcome): string {
  switch (outcome.kind) {
    case "loaded":
      return formatLoaded(outcome.certificate, outcome.at);
    case "reloaded":
      return `reloaded: now serving ${describeCertificate(outcome.certificate, outcome.at)}` +
        `; replaced SHA-256 ${outcome.previous.fingerprint256}`;
    case "unchanged":
      return `unchanged: "${outcome.certificate.path}" holds the certificate already being served, ` +
        `${_certificateSummary(outcome.certificate, outcome.at)}; nothing was swapped`;
    case "failed":
      return `reload failed: ${describeError(outcome.error)}; still serving the previous ` +
        `certificate ${describeCertificate(outcome.certificate, outcome.at)}`;
    default:
      return _unreachable(outcome);
  }
}

/**
 * Renders why the server did not start, as one line.
 *
 * @example
 * ```ts ignore
 * if (!started.ok) console.error(formatStartError(started.error));
 * ```
 */
export function formatStartError(error: StartError): string {
  switch (error.kind) {
    case "invalid_option":
      return `Invalid option ${error.error.option}: ${error.error.problem}; ` +
        "the server was not started";
    case "certificate":
    case "token":
      return formatStartupFailure(error.error);
    case "pid_file":
      return `startup failed: Cannot use pid file "${error.error.path}": ${error.error.problem}; ` +
        "the server was not started";
    case "listen":
      return formatListenError(error.error);
    default:
      return _unreachable(error);
  }
}

/** Renders a step of a graceful stop: the signal arrived, the servers stopped, or a second signal forced the exit. */
export function formatStop(phase: "stopping" | "stopped" | "forced"): string {
  switch (phase) {
    case "stopping":
      return "shutting down: finishing in-flight requests";
    case "stopped":
      return "stopped";
    case "forced":
      return "second stop signal received: exiting now without waiting";
    default:
      return _unreachable(phase);
  }
}

/**
 * Renders a notice as the line an operator reads.
 *
 * @example
 * ```ts ignore
 * serveWithReload({ ...options, onNotice: (notice) => console.log(formatNotice(notice)) });
 * ```
 */
export function formatNotice(notice: Notice): string {
  switch (notice.kind) {
    case "tls_front":
      return _frontLine(notice);
    case "connection_migration":
      return _migrationLine(notice.migration);
    case "expiry":
      return `certificate "${notice.certificate.path}" (${notice.certificate.subject}) expires ` +
        `${formatTime(notice.certificate.notAfter)} (${
          _daysLeft(notice.certificate.notAfter, notice.at)
        }), within the ${notice.warnDays}-day warning window; renew it and reload`;
    case "watching":
      return `watching ${notice.paths.map((path) => `"${path}"`).join(" and ")} for changes ` +
        `(file events, and a check every ${notice.pollMs} ms); a change reloads with trigger watch`;
    case "watcher_failed":
      return `file events stopped (${notice.reason}); still checking for changes every ` +
        `${notice.pollMs} ms`;
    default:
      return _unreachable(notice);
  }
}

function _frontLine(notice: Extract<Notice, { kind: "tls_front" }>): string {
  const serving = `HTTPS served by the ${notice.front} front (${notice.protocols.join(", ")})`;
  switch (notice.fallback) {
    case undefined:
      return serving;
    case "no_unstable_net":
      return `${serving}: the native front (HTTP/2, native speed) needs Deno's --unstable-net ` +
        "flag; add it to serve natively";
    case "no_internal_api":
      return `${serving}: this Deno version lacks the internal serveHttpOnConnection the ` +
        "native front uses";
    default:
      return _unreachable(notice.fallback);
  }
}

function _migrationLine(migration: ConnectionMigration): string {
  if (migration === "on") {
    return "net.ipv4.tcp_migrate_req is on: connections waiting to be accepted move to the " +
      "new listener on a certificate swap";
  }
  return `net.ipv4.tcp_migrate_req ${migration === "off" ? "is 0" : "could not be checked"}: ` +
    "clients that open a connection per request may see a reset during a certificate swap " +
    "(connections still waiting in the old listener's queue); set it to 1 with " +
    "sysctl -w net.ipv4.tcp_migrate_req=1 (persist it in /etc/sysctl.d/, or set it in the " +
    "pod's securityContext.sysctls on Kubernetes)";
}

/** Renders a certificate rejected at startup, with the same cause wording as a failed reload. */
export function formatStartupFailure(error: CertificateError): string {
  return `startup failed: ${describeError(error)}; the server was not started`;
}

/** Renders the certificate loaded at startup. */
export function formatLoaded(certificate: Certificate, now: Date): string {
  return `loaded ${describeCertificate(certificate, now)}`;
}

/** Renders an address that could not be listened on. */
export function formatListenError(error: ListenError): string {
  const where = `Cannot listen on ${error.address} for the ${error.server} server`;
  switch (error.kind) {
    case "address_in_use":
      return `${where}: address already in use; the server was not started`;
    case "permission_denied":
      return error.deniedBy === "deno"
        ? `${where}: Deno denied access; grant it with ${_listenGrant(error.address)}; ` +
          "the server was not started"
        : `${where}: permission denied by the operating system (ports below 1024 need privileges); ` +
          "the server was not started";
    case "address_not_available":
      return `${where}: no such local address; the server was not started`;
    case "path_in_use":
      return error.holder === "socket"
        ? `${where}: a server is answering on that socket already; the server was not started`
        : `${where}: the path exists and is not a socket; remove it or choose another path; ` +
          "the server was not started";
    case "other":
      return `${where}: ${error.reason}; the server was not started`;
    default:
      return _unreachable(error);
  }
}

function _listenGrant(address: string): string {
  if (!address.startsWith("unix:")) return `--allow-net=${address}`;
  const path = address.slice("unix:".length);
  return `--allow-read=${path} --allow-write=${path} --allow-net=${address}`;
}

/** Says which certificate this is: file, subject, names, expiry, days left and fingerprint. */
export function describeCertificate(certificate: Certificate, now: Date): string {
  return `"${certificate.path}": ${_certificateSummary(certificate, now)}`;
}

/**
 * Says why a certificate or key was rejected: the file, the cause and how to fix it.
 *
 * @example
 * ```ts ignore
 * if (outcome.kind === "failed") notify(describeError(outcome.error));
 * ```
 */
export function describeError(error: CertificateError): string {
  switch (error.kind) {
    case "not_found":
      return `Cannot read ${_file(error.role, error.path)}: file not found` +
        (error.linkTarget === undefined
          ? ""
          : ` (it is a symbolic link to "${error.linkTarget}", which does not exist)`);
    case "permission_denied":
      return `Cannot read ${_file(error.role, error.path)}: ${_permissionCause(error)}`;
    case "not_a_file":
      return `Cannot read ${_file(error.role, error.path)}: it is a ${error.fileType}, ` +
        "not a regular file";
    case "too_large":
      return `Cannot read ${_file(error.role, error.path)}: it is over the size limit of ` +
        `${error.limit / BYTES_PER_KIB} KiB (${error.size} bytes or more)`;
    case "empty":
      return `Cannot load ${_file(error.role, error.path)}: the file is empty`;
    case "not_pem":
      return `Cannot load ${_file(error.role, error.path)}: no PEM block found ` +
        `(expected a line "-----BEGIN ${
          error.role === "key" ? "PRIVATE KEY" : "CERTIFICATE"
        }-----")`;
    case "der_encoded":
      return `Cannot load ${_file(error.role, error.path)}: it is binary DER, not PEM; convert ` +
        `it with: openssl ${error.role === "key" ? "pkey" : "x509"} -inform der -in ${error.path}`;
    case "truncated_pem":
      return `Cannot load ${_file(error.role, error.path)}: its ${error.label} block has no ` +
        "END line (is the file truncated or still being written?)";
    case "no_certificate":
      return `Cannot load certificate "${error.path}": it holds ${error.found.join(", ")} ` +
        "but no CERTIFICATE block" +
        (error.found.some((label) => label.endsWith("PRIVATE KEY"))
          ? " (is it the key file? pass the key with --key)"
          : "");
    case "invalid_certificate":
      return `Cannot parse certificate ${error.position} of "${error.path}": ${error.reason}`;
    case "chain_broken":
      return `Invalid chain in "${error.path}": certificate ${error.position} ` +
        `(${error.subject}) was not issued by certificate ${error.position + 1} ` +
        `(${error.nextSubject}); put the leaf first, then each issuer in order`;
    case "expired":
      return `Certificate "${error.path}" (${error.subject}) expired at ${
        formatTime(error.notAfter)
      }`;
    case "not_yet_valid":
      return `Certificate "${error.path}" (${error.subject}) is not valid before ` +
        formatTime(error.notBefore);
    case "key_invalid":
      return `Cannot load key "${error.path}": ${error.reason}`;
    case "key_mismatch":
      return `Key "${error.path}" does not match the certificate in "${error.certPath}" ` +
        "(its public key differs from the leaf certificate's)";
    case "tls_rejected":
      return `The TLS server refused certificate "${error.path}" and its key: ${error.reason}`;
    case "io":
      return `Cannot read ${_file(error.role, error.path)}: ${error.reason}`;
    default:
      return _unreachable(error);
  }
}

/** Renders the health of the active certificate: valid now, or expired (or not yet valid) and what to do. */
export function formatHealth(
  certificate: Certificate,
  now: Date,
): { healthy: boolean; line: string } {
  if (now > certificate.notAfter) {
    return {
      healthy: false,
      line: `unhealthy: certificate "${certificate.path}" (${certificate.subject}) expired at ` +
        `${formatTime(certificate.notAfter)} and is still being served; install a renewed ` +
        "certificate and reload",
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

/** Prefixes a line with its time and what it is about, for the log. */
export function formatLogLine(at: Date, tag: string, text: string): string {
  return `${formatTime(at)} [${tag}] ${text}`;
}

function _permissionCause(
  error: Extract<CertificateError, { kind: "permission_denied" }>,
): string {
  if (error.deniedBy === "deno" && error.refusedPath !== undefined) {
    return `Deno denied read access to "${error.refusedPath}", where it leads; grant it with ` +
      `--allow-read=${error.refusedPath}`;
  }
  if (error.deniedBy === "deno") {
    return `Deno denied read access; grant it with --allow-read=${error.path} (deno task start ` +
      "allows only the files named in its --allow-read flag in deno.json)";
  }
  const checked = error.linkTarget === undefined
    ? "the file's owner and mode"
    : `the owner and mode of "${error.linkTarget}", where the symbolic link leads, and of its folders`;
  return `permission denied by the operating system; check ${checked}`;
}

function _certificateSummary(certificate: Certificate, now: Date): string {
  const names = certificate.subjectAltNames.length > 0
    ? ` [${certificate.subjectAltNames.join(", ")}]`
    : "";
  return `${certificate.subject}${names}, expires ${formatTime(certificate.notAfter)} ` +
    `(${_daysLeft(certificate.notAfter, now)}), SHA-256 ${certificate.fingerprint256}`;
}

/** Whole days from `now` until `notAfter`; negative once it has passed. */
export function daysLeft(notAfter: Date, now: Date): number {
  return Math.floor((notAfter.getTime() - now.getTime()) / MS_PER_DAY);
}

function _daysLeft(notAfter: Date, now: Date): string {
  const days = daysLeft(notAfter, now);
  if (days < 0) return `expired ${-days} days ago`;
  return days === 1 ? "1 day left" : `${days} days left`;
}

function _file(role: FileRole, path: string): string {
  return `${role} "${path}"`;
}

/** A time as every line writes it: ISO 8601 in UTC, to the second. */
export function formatTime(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

function _unreachable(value: never): never {
  throw new Error(`Unhandled case: ${JSON.stringify(value)}`);
}

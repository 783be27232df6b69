/**
 * The renewal checks a reload makes after the loader accepted the files,
 * comparing the candidate with the certificate being served: a renewal that
 * drops a name the served certificate covers is refused (`names_dropped`)
 * unless allowed; a drop that was allowed, an earlier expiry and a changed key
 * type or size are reported as notes. The loader knows nothing of the served
 * certificate, so these live here. Each kind is worded beside it.
 *
 * @module
 */

import type { Certificate, CertificateError } from "../certificate/certificate.ts";
import { describeError } from "../certificate/describe_error.ts";
import { err, ok, type Result } from "../ground/result.ts";
import { formatTime } from "../ground/time.ts";
import { droppedNames, type ServedName } from "./names.ts";

/**
 * Why a reload refused files the loader accepted.
 *
 * @example
 * ```ts ignore
 * if (outcome.kind === "failed" && outcome.error.kind === "names_dropped") page(outcome.error.dropped);
 * ```
 */
export type RenewalError = {
  /** The renewal does not cover every name the served certificate covers. */
  readonly kind: "names_dropped";
  /** The certificate file of the renewal. */
  readonly path: string;
  /** The names served now that the renewal does not cover. */
  readonly dropped: readonly ServedName[];
};

/** Every way a reload can fail: the loader's {@linkcode CertificateError}s and the renewal checks'. */
export type ReloadError = CertificateError | RenewalError;

/** The kind names of {@linkcode ReloadError}. */
export type ReloadErrorKind = ReloadError["kind"];

/** What a reload reports about a renewal without refusing it. */
export type RenewalNote =
  | {
    /** Names were dropped, and that was allowed. */
    readonly kind: "names_dropped";
    readonly dropped: readonly ServedName[];
  }
  | {
    /** The renewal's leaf expires before the served leaf. */
    readonly kind: "expires_earlier";
    readonly notAfter: Date;
    readonly previousNotAfter: Date;
  }
  | {
    /** The leaf's key type or size changed. */
    readonly kind: "key_type_changed";
    readonly from: string;
    readonly to: string;
  };

/** How a reload pointed others to allowing a drop: the query, the client flag and the server flag. */
export const ALLOW_DROPPED_NAMES = {
  query: "allow_dropped_names=1",
  client: "deno task reload --allow-dropped-names",
  server: "--allow-dropped-names",
} as const;

/** Compares a candidate with the served certificate: refused when it drops names (unless allowed), else its notes. */
export function checkRenewal(
  served: Certificate,
  candidate: Certificate,
  allowDroppedNames: boolean,
): Result<RenewalNote[], RenewalError> {
  const dropped = droppedNames(served, candidate);
  if (dropped.length > 0 && !allowDroppedNames) {
    return err({ kind: "names_dropped", path: candidate.path, dropped });
  }
  const notes: RenewalNote[] = [];
  if (dropped.length > 0) notes.push({ kind: "names_dropped", dropped });
  if (candidate.notAfter < served.notAfter) {
    notes.push({
      kind: "expires_earlier",
      notAfter: candidate.notAfter,
      previousNotAfter: served.notAfter,
    });
  }
  if (candidate.keyType !== served.keyType) {
    notes.push({ kind: "key_type_changed", from: served.keyType, to: candidate.keyType });
  }
  return ok(notes);
}

/** Says why a reload failed: the loader's words, or the renewal check's. */
export function describeReloadError(error: ReloadError): string {
  if (error.kind !== "names_dropped") return describeError(error);
  return `Renewal "${error.path}" does not cover ${_names(error.dropped)}, which the certificate ` +
    "being served covers: clients asking for " + (error.dropped.length === 1 ? "it" : "them") +
    ` would fail; if that is intended, reload with ?${ALLOW_DROPPED_NAMES.query} ` +
    `(${ALLOW_DROPPED_NAMES.client}) or start the server with ${ALLOW_DROPPED_NAMES.server}`;
}

/** Renders a note as the clause appended to a reload's line. */
export function formatRenewalNote(note: RenewalNote): string {
  switch (note.kind) {
    case "names_dropped":
      return `it no longer covers ${_names(note.dropped)} (dropped names allowed)`;
    case "expires_earlier":
      return `it expires earlier than the certificate it replaces (${formatTime(note.notAfter)}, ` +
        `not ${formatTime(note.previousNotAfter)})`;
    case "key_type_changed":
      return `its key changed from ${note.from} to ${note.to}`;
  }
}

function _names(names: readonly ServedName[]): string {
  const quoted = names.map((name) => `"${name.value}"`);
  return quoted.length <= 1
    ? quoted.join("")
    : `${quoted.slice(0, -1).join(", ")} and ${quoted[quoted.length - 1]}`;
}

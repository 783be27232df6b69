/**
 * The words of certificate errors: why a certificate or key was refused,
 * naming the file, the cause and the fix. Every surface that reports a
 * refused file (a failed reload, a failed start, the CLI) says it with
 * {@linkcode describeError}.
 *
 * @module
 */

import type { CertificateError, FileRole } from "./certificate.ts";
import { unreachable } from "../ground/result.ts";
import { describeUnservable } from "./servable.ts";
import { formatTime } from "../ground/time.ts";

const BYTES_PER_KIB = 1024;

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
          : ` (it is a symbolic link, which pointed to "${error.linkTarget}" when checked)`);
    case "permission_denied":
      return `Cannot read ${_file(error.role, error.path)}: ${_permissionCause(error)}`;
    case "not_a_file":
      return `Cannot read ${_file(error.role, error.path)}: it is a ${error.fileType}, ` +
        "not a regular file";
    case "too_large":
      return `Cannot read ${_file(error.role, error.path)}: it is over the size limit of ` +
        `${error.limit / BYTES_PER_KIB} KiB`;
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
      return `Cannot load certificate "${error.path}": it holds no CERTIFICATE block` +
        (error.privateKey
          ? ", but a private key (is it the key file? pass the key with --key)"
          : "");
    case "invalid_certificate":
      return `Cannot parse certificate ${error.position} of "${error.path}": ${error.reason}`;
    case "chain_broken":
      return `Invalid chain in "${error.path}": certificate ${error.position} ` +
        `(${error.subject}) was not issued by certificate ${error.position + 1} ` +
        `(${error.nextSubject}); put the leaf first, then each issuer in order`;
    case "expired":
      return error.position === undefined
        ? `Certificate "${error.path}" (${error.subject}) expired at ${formatTime(error.notAfter)}`
        : `Certificate ${error.position} of "${error.path}" (${error.subject}), an issuer in ` +
          `its chain, expired at ${formatTime(error.notAfter)}; every client that builds its ` +
          "path through it fails: put the renewed intermediate in the file";
    case "not_yet_valid":
      return error.position === undefined
        ? `Certificate "${error.path}" (${error.subject}) is not valid before ` +
          formatTime(error.notBefore)
        : `Certificate ${error.position} of "${error.path}" (${error.subject}), an issuer in ` +
          `its chain, is not valid before ${formatTime(error.notBefore)}; every client that ` +
          "builds its path through it fails until then";
    case "unservable":
      return error.role === "key"
        ? `Key "${error.path}" ${describeUnservable(error.problem)}`
        : `Certificate "${error.path}" (${error.subject}) ${describeUnservable(error.problem)}`;
    case "key_invalid":
      return `Cannot load key "${error.path}": ${error.reason}`;
    case "key_mismatch":
      return `Key "${error.path}" does not match the certificate in "${error.certPath}" ` +
        "(its public key differs from the leaf certificate's)";
    case "tls_rejected":
      return `The TLS server refused certificate "${error.path}" and its key: ${error.reason}`;
    case "io":
      return `Cannot read ${_file(error.role, error.path)}: ${error.reason}`;
    case "chain_too_long":
      return `Cannot serve certificate "${error.path}": its chain holds ${error.count} ` +
        `certificates, over the ${error.limit} a TLS client verifies (rustls builds a path through ` +
        "at most 6 intermediates); keep the leaf and its issuers only";
    case "chain_too_large":
      return `Cannot serve certificate "${error.path}": its chain makes a TLS Certificate message ` +
        `of ${error.bytes} bytes, over the ${error.limit / BYTES_PER_KIB} KiB TLS clients read ` +
        "(rustls refuses 64 KiB, OpenSSL 100 KiB); keep the leaf and its issuers only";
    case "duplicate_certificate":
      return `Cannot serve certificate "${error.path}": certificate ${error.position} repeats ` +
        `certificate ${error.firstPosition}; list each certificate once, leaf first`;
    case "self_signed_not_last":
      return `Cannot serve certificate "${error.path}": certificate ${error.position} of ` +
        `${error.count} (${error.subject}) is self-signed, so no client looks past it; a root ` +
        "may only come last (or be left out)";
    default:
      return unreachable(error);
  }
}

function _permissionCause(
  error: Extract<CertificateError, { kind: "permission_denied" }>,
): string {
  if (error.deniedBy === "deno" && error.refusedPath !== undefined) {
    return `Deno denied read access to "${error.refusedPath}", where it leads; grant it with ` +
      `--allow-read=${error.refusedPath}`;
  }
  if (error.deniedBy === "deno") {
    return `Deno denied read access; grant it with --allow-read=${error.path}`;
  }
  const checked = error.linkTarget === undefined
    ? "the file's owner and mode"
    : `the owner and mode of "${error.linkTarget}", where the symbolic link leads, and of its folders`;
  return `permission denied by the operating system; check ${checked}`;
}

function _file(role: FileRole, path: string): string {
  return `${role} "${path}"`;
}

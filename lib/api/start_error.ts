/**
 * Why a server could not start: a closed set, keyed by `kind`. Every way
 * {@linkcode serveWithReload} can fail before it serves comes back as one of
 * these values, never as an exception.
 *
 * @module
 */

import type { CertificateError } from "../certificate/certificate.ts";
import type { ListenError } from "../serve/listen.ts";
import type { PidFileError } from "../cli/pid_file.ts";

/**
 * An option that makes no sense, named, with what it must be.
 *
 * @example
 * ```ts
 * const error: OptionError = { option: "port", problem: "must be a port number from 0 to 65535, got 70000" };
 * ```
 */
export interface OptionError {
  /** The option's name as the caller wrote it, e.g. `control.hostname` or `--port`. */
  readonly option: string;
  /** What is wrong with it, e.g. `must be a port number from 0 to 65535, got 70000`. */
  readonly problem: string;
}

/**
 * Why the server did not start: a bad option, a rejected certificate, an unreadable control
 * token file, a pid file another server holds, or an address it could not bind.
 *
 * @example
 * ```ts ignore
 * if (!started.ok) {
 *   console.error(formatStartError(started.error));
 *   Deno.exit(started.error.kind === "invalid_option" ? 2 : 1);
 * }
 * ```
 */
export type StartError =
  | { readonly kind: "invalid_option"; readonly error: OptionError }
  | { readonly kind: "certificate"; readonly error: CertificateError }
  | { readonly kind: "token"; readonly error: CertificateError }
  | { readonly kind: "pid_file"; readonly error: PidFileError }
  | { readonly kind: "listen"; readonly error: ListenError };

/**
 * The kind names of {@linkcode StartError}.
 *
 * @example
 * ```ts
 * const retryable: StartErrorKind[] = ["listen"];
 * ```
 */
export type StartErrorKind = StartError["kind"];

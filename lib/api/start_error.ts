/**
 * Why a server could not start: a closed set, keyed by `kind`. Every way
 * {@linkcode serveWithReload} can fail before it serves comes back as one of
 * these values, never as an exception.
 *
 * @module
 */

import type { CertificateError } from "../certificate/certificate.ts";
import { describeError } from "../certificate/describe_error.ts";
import { EXIT_CODE } from "../ground/exit_code.ts";
import type { OptionError } from "../ground/option_error.ts";
import { unreachable } from "../ground/result.ts";
import { formatListenError, type ListenError } from "../serve/listen.ts";
import { describeTokenError, type TokenError } from "../control/token.ts";

export type { OptionError } from "../ground/option_error.ts";

/** Why a pid file could not be taken (the CLI's `--pid-file`, or an app's own). */
export interface PidFileError {
  /** The pid file's path. */
  readonly path: string;
  /** What is wrong, in the operator's words. */
  readonly problem: string;
  /** `true` when Deno's permissions refused it (the process lacks `--allow-read`/`--allow-write` for it). */
  readonly deniedByDeno?: boolean;
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
  | { readonly kind: "token"; readonly error: TokenError }
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

/** Exit code of the process for each way {@linkcode serveWithReload} can fail to start. */
export const START_ERROR_EXIT_CODE: Readonly<Record<StartErrorKind, number>> = {
  invalid_option: EXIT_CODE.usage,
  certificate: EXIT_CODE.startupFailed,
  token: EXIT_CODE.startupFailed,
  pid_file: EXIT_CODE.startupFailed,
  listen: EXIT_CODE.startupFailed,
};

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
      return formatStartupFailure(error.error);
    case "token":
      return `startup failed: ${describeTokenError(error.error)}; the server was not started`;
    case "pid_file":
      return `startup failed: Cannot use pid file "${error.error.path}": ${error.error.problem}; ` +
        "the server was not started";
    case "listen":
      return formatListenError(error.error);
    default:
      return unreachable(error);
  }
}

/** Renders a certificate rejected at startup, with the same cause wording as a failed reload. */
export function formatStartupFailure(error: CertificateError): string {
  return `startup failed: ${describeError(error)}; the server was not started`;
}

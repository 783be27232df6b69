/**
 * Starting an HTTP server on an address, with the ways that can fail turned
 * into a {@linkcode ListenError} value instead of an exception.
 *
 * @module
 */

import { hostPort } from "./options.ts";
import { err, ok, type Result } from "./result.ts";

/**
 * Which of the two servers an address belongs to.
 *
 * @example
 * ```ts ignore
 * if (!started.ok && started.error.kind === "listen") console.error(started.error.error.server);
 * ```
 */
export type ServerName = "app" | "control";

/**
 * Why a server could not start listening: a closed set, keyed by `kind`.
 *
 * @example
 * ```ts ignore
 * if (!started.ok && started.error.kind === "listen" && started.error.error.kind === "address_in_use") {
 *   console.error("another instance runs already");
 * }
 * ```
 */
export type ListenError =
  | { readonly kind: "address_in_use"; readonly server: ServerName; readonly address: string }
  | {
    readonly kind: "permission_denied";
    readonly server: ServerName;
    readonly address: string;
    /** `deno`: the process lacks `--allow-net` for it; `os`: e.g. a privileged port. */
    readonly deniedBy: "deno" | "os";
  }
  | {
    readonly kind: "address_not_available";
    readonly server: ServerName;
    readonly address: string;
  }
  | {
    readonly kind: "other";
    readonly server: ServerName;
    readonly address: string;
    readonly reason: string;
  };

/** Where a server listens. */
export interface ListenAddress {
  /** Local address to bind. */
  readonly hostname: string;
  /** Port to bind; 0 picks a free one. */
  readonly port: number;
}

/** Starts `Deno.serve` on an address; binding failures come back as values. */
export function listen(
  server: ServerName,
  address: ListenAddress,
  handler: Deno.ServeHandler<Deno.NetAddr>,
): Result<Deno.HttpServer<Deno.NetAddr>, ListenError> {
  try {
    return ok(Deno.serve({ ...address, onListen: () => {} }, handler));
  } catch (error) {
    return err(listenError(server, hostPort(address.hostname, address.port), error));
  }
}

/** Maps an exception (Deno's, or node:net's with a `code`) raised while binding to a {@linkcode ListenError}. */
export function listenError(server: ServerName, address: string, error: unknown): ListenError {
  const code = (error as { code?: unknown } | null)?.code;
  if (error instanceof Deno.errors.AddrInUse || code === "EADDRINUSE") {
    return { kind: "address_in_use", server, address };
  }
  if (error instanceof Deno.errors.NotCapable) {
    return { kind: "permission_denied", server, address, deniedBy: "deno" };
  }
  if (error instanceof Deno.errors.PermissionDenied || code === "EACCES") {
    return { kind: "permission_denied", server, address, deniedBy: "os" };
  }
  if (error instanceof Deno.errors.AddrNotAvailable || code === "EADDRNOTAVAIL") {
    return { kind: "address_not_available", server, address };
  }
  return {
    kind: "other",
    server,
    address,
    reason: error instanceof Error ? error.message : String(error),
  };
}

/** The URL of a listening server, for the operator. */
export function serverUrl(addr: Deno.NetAddr, path: string, scheme = "http"): string {
  return `${scheme}://${hostPort(addr.hostname, addr.port)}${path}`;
}

/**
 * Starting an HTTP server on an address, with the ways that can fail turned
 * into a {@linkcode ListenError} value instead of an exception.
 *
 * @module
 */

import { hostPort } from "../ground/address.ts";
import { err, ok, type Result, unreachable } from "../ground/result.ts";
import type { ConnectionLimits } from "./connection_limits.ts";
import {
  Connections,
  type ConnectionStats,
  type DescriptorGuard,
  serveOnConnection,
  type ServerName,
  type StopReport,
} from "./connections.ts";

export type { ServerName } from "./connections.ts";

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
    /** A file that is not a stale socket is in the way of a Unix socket. */
    readonly kind: "path_in_use";
    readonly server: ServerName;
    readonly address: string;
    /**
     * `socket`: a server answers on it; `file`: it is not a socket at all; `replaced`: another
     * process removed or replaced the socket right after it was made.
     */
    readonly holder: "socket" | "file" | "replaced";
    /** What is at the path when it is not a socket, e.g. `symbolic link`. */
    readonly fileType?: string;
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

/** A server listening on an address, serving its connections under limits. */
export interface Server<Addr extends Deno.Addr = Deno.NetAddr> {
  /** The bound address. */
  readonly addr: Addr;
  /** Its connection counters, for `/metrics`. */
  readonly stats: ConnectionStats;
  /** Stops accepting, lets requests in flight finish within the grace period, cuts the rest. */
  shutdown(): Promise<StopReport>;
}

/** How a server's connections are held: their limits, the process's descriptor guard, and whether its answers are whole. */
export interface ServeLimits {
  /** Timeouts, the cap on open connections, the stop's grace period. */
  readonly limits: ConnectionLimits;
  /** Shared by every server of the process. */
  readonly guard: DescriptorGuard;
  /** Every answer of the handler is whole when returned (no stream body): requests end as it returns. */
  readonly wholeAnswers?: boolean;
}

/** The answer to a request whose handler threw: a plain 500, the error logged, never leaked. */
export function handlerFailed(error: unknown): Response {
  console.error("signal-server: the app's handler threw:", error);
  return new Response("Internal Server Error", { status: 500 });
}

/** Starts serving on an address; binding failures come back as values. */
export function listen(
  server: ServerName,
  address: ListenAddress,
  handler: Deno.ServeHandler<Deno.NetAddr>,
  serveLimits: ServeLimits,
): Result<Server, ListenError> {
  try {
    const listener = Deno.listen({ ...address, transport: "tcp" });
    return ok(serveListener(server, listener, handler, serveLimits));
  } catch (error) {
    return err(listenError(server, hostPort(address.hostname, address.port), error));
  }
}

/**
 * Serves a bound listener through {@linkcode Connections}: our accept loop,
 * deadlines and descriptor guard, each connection served natively.
 */
export function serveListener<Addr extends Deno.Addr>(
  server: ServerName,
  listener: Deno.Listener<Deno.Conn, Addr>,
  // deno-lint-ignore no-explicit-any
  handler: Deno.ServeHandler<any>,
  { limits, guard, wholeAnswers }: ServeLimits,
): Server<Addr> {
  const serve = serveOnConnection();
  if (serve === undefined) {
    listener.close();
    throw new Error("this Deno lacks the internal serveHttpOnConnection");
  }
  const connections = new Connections({
    server,
    handler,
    onError: handlerFailed,
    limits,
    guard,
    serve,
    wholeAnswers,
  });
  if (server === "app") guard.shedFrom(connections);
  connections.add(listener as unknown as Deno.Listener);
  return { addr: listener.addr, stats: connections.stats, shutdown: () => connections.stop() };
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

/** The URL of a listening server, for the operator (`unix:<path>` for a Unix socket). */
export function serverUrl(
  addr: Deno.NetAddr | Deno.UnixAddr,
  path: string,
  scheme = "http",
): string {
  if ("path" in addr) return `unix:${addr.path} ${path}`;
  return `${scheme}://${hostPort(addr.hostname, addr.port)}${path}`;
}

/** A server on a Unix socket; stopping it removes the socket file. */
export type UnixServer = Server<Deno.UnixAddr>;

/** The mode of the control socket: read and write for its owner only. */
export const SOCKET_MODE = 0o600;

/**
 * Starts `Deno.serve` on a Unix socket with mode 0600. A socket file left by a
 * crashed run (nothing answers on it) is replaced; a socket a server answers
 * on, or anything else (a symbolic link, a regular file, …), is refused. The
 * path is never followed: it is checked with `lstat`, `bind` creates the socket
 * itself (and fails on any name in its way, a dangling link included), and the
 * path is checked again to be a socket right before the `chmod`, which would
 * follow a link swapped in: see docs/security.md for that window.
 */
export async function listenUnix(
  server: ServerName,
  path: string,
  handler: Deno.ServeHandler<Deno.UnixAddr>,
  serveLimits: ServeLimits,
): Promise<Result<UnixServer, ListenError>> {
  const address = `unix:${path}`;
  try {
    const existing = await _lstatOrUndefined(path);
    if (existing !== undefined) {
      if (!existing.isSocket) {
        return err({
          kind: "path_in_use",
          server,
          address,
          holder: "file",
          fileType: _fileType(existing),
        });
      }
      if (await _answers(path)) {
        return err({ kind: "path_in_use", server, address, holder: "socket" });
      }
      await Deno.remove(path);
    }
    const served = serveListener(
      server,
      Deno.listen({ transport: "unix", path }),
      handler,
      serveLimits,
    );
    const bound = await _lstatOrUndefined(path);
    if (bound === undefined || !bound.isSocket) {
      // Replaced between the bind and now: chmod would follow whatever is there (not ours to remove).
      await served.shutdown();
      return err({ kind: "path_in_use", server, address, holder: "replaced" });
    }
    await Deno.chmod(path, SOCKET_MODE);
    return ok({
      addr: served.addr,
      stats: served.stats,
      async shutdown() {
        const report = await served.shutdown();
        await Deno.remove(path).catch(() => {});
        return report;
      },
    });
  } catch (error) {
    return err(listenError(server, address, error));
  }
}

async function _lstatOrUndefined(path: string): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.lstat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

function _fileType(info: Deno.FileInfo): string {
  if (info.isSymlink) return "symbolic link";
  if (info.isFile) return "regular file";
  if (info.isDirectory) return "directory";
  if (info.isFifo) return "named pipe";
  return "special file";
}

async function _answers(path: string): Promise<boolean> {
  try {
    (await Deno.connect({ transport: "unix", path })).close();
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.ConnectionRefused) return false;
    throw error;
  }
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
      if (error.holder === "replaced") {
        return `${where}: another process removed or replaced the socket right after it was ` +
          "made, and its mode was not set; let only the server's user write its folder; " +
          "the server was not started";
      }
      return error.holder === "socket"
        ? `${where}: a server is answering on that socket already; the server was not started`
        : `${where}: the path is ${
          error.fileType === undefined ? "not a socket" : `a ${error.fileType}, not a socket`
        }, and it is never followed or replaced; remove it or choose another path; ` +
          "the server was not started";
    case "other":
      return `${where}: ${error.reason}; the server was not started`;
    default:
      return unreachable(error);
  }
}

function _listenGrant(address: string): string {
  if (!address.startsWith("unix:")) return `--allow-net=${address}`;
  const path = address.slice("unix:".length);
  return `--allow-read=${path} --allow-write=${path} --allow-net=${address}`;
}

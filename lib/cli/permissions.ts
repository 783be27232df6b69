/**
 * The least-privilege permission flags for a configuration: read access to
 * the certificate (and key) only, net access to the two listen addresses only,
 * plus the control token file, the control socket and the pid file when configured,
 * and `--unstable-net` when the native HTTPS front may serve (SO_REUSEPORT); besides them,
 * `--no-config` and the V8 heap flags that keep the footprint small.
 * `deno task start` writes them out for the defaults; tests use this function
 * to spawn the server exactly as narrowly, and a test keeps the two in step.
 *
 * @module
 */

import { hostPort } from "../ground/address.ts";
import type { Options } from "./options.ts";

/**
 * V8 sized for a small, long-lived process: the young generation capped at 1 MiB per semi-space and
 * `--optimize-for-size` (the old generation grows in smaller steps). Measured over 20,300 reloads:
 * RSS levels off at 63–72 MiB with both, 80–88 MiB with the cap alone, at no measurable cost per
 * request on plain HTTP or the native HTTPS front (see README, "Performance").
 */
export const V8_FLAGS = "--v8-flags=--max-semi-space-size=1,--optimize-for-size";

/**
 * The server reads no `deno.json`: its module graph is local files and `node:` built-ins only
 * (a test keeps it so), and finding and resolving the project's config, lockfile and npm
 * packages cost ~2 MiB of RSS at start (median 41.9 vs 44.0 MiB over eight starts each).
 */
export const NO_CONFIG = "--no-config";

/** The `deno run` flags a server with these options needs (permissions, and nothing more), plus {@linkcode NO_CONFIG} and, except for the node front, {@linkcode V8_FLAGS}. */
export function permissionFlags(options: Options): string[] {
  const socket = options.controlSocket;
  const readable = [options.cert, options.key, options.controlTokenFile, socket, options.pidFile]
    .filter((path) => path !== undefined);
  const writable = [socket, options.pidFile].filter((path) => path !== undefined);
  const listens = [
    hostPort(options.hostname, options.port),
    socket === undefined
      ? hostPort(options.controlHostname, options.controlPort)
      : `unix:${socket}`,
  ];
  const tls = options.key !== undefined;
  // The node:https front runs far more JavaScript per request, and V8's defaults suit it better: the
  // semi-space cap cost it 1.4–1.6× CPU per request, --optimize-for-size 1.6–1.8× more.
  const flags = [
    "--no-prompt",
    NO_CONFIG,
    ...(tls && options.tlsFront === "node" ? [] : [V8_FLAGS]),
    `--allow-read=${readable.join(",")}`,
    // A Unix socket needs read and write of its path besides the net grant (Deno 2.9.6); the pid
    // file is written, locked and removed.
    ...(writable.length === 0 ? [] : [`--allow-write=${writable.join(",")}`]),
    `--allow-net=${listens.join(",")}`,
  ];
  // The native HTTPS front binds each certificate's listener with SO_REUSEPORT, which Deno gates.
  return tls && options.tlsFront !== "node" ? [...flags, "--unstable-net"] : flags;
}

/**
 * The least-privilege permission flags for a configuration: read access to
 * the certificate (and key) only, net access to the two listen addresses only,
 * and `--unstable-net` when the native HTTPS front may serve (SO_REUSEPORT).
 * `deno task start` writes them out for the defaults; tests use this function
 * to spawn the server exactly as narrowly, and a test keeps the two in step.
 *
 * @module
 */

import { hostPort, type Options } from "./options.ts";

/** The `deno run` permission flags a server with these options needs, and nothing more. */
export function permissionFlags(options: Options): string[] {
  const readable = options.key === undefined ? [options.cert] : [options.cert, options.key];
  const listens = [
    hostPort(options.hostname, options.port),
    hostPort(options.controlHostname, options.controlPort),
  ];
  const flags = [
    "--no-prompt",
    `--allow-read=${readable.join(",")}`,
    `--allow-net=${listens.join(",")}`,
  ];
  // The native HTTPS front binds each certificate's listener with SO_REUSEPORT, which Deno gates.
  const native = options.key !== undefined && options.tlsFront !== "node";
  return native ? [...flags, "--unstable-net"] : flags;
}

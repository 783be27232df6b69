/**
 * Network addresses as the library and the CLI both write them. Part of the
 * ground layer: imports nothing.
 *
 * @module
 */

/** Joins a host and port the way URLs and `--allow-net` write them (`[::1]:3000`). */
export function hostPort(hostname: string, port: number): string {
  return hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
}

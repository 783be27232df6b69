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

/** What a server with some options may touch: the paths it reads and writes, and the addresses it listens on. */
export interface Grants {
  /** Paths read: certificate, key, token file, control socket, pid file. */
  readonly read: readonly string[];
  /** Paths written: control socket, pid file. */
  readonly write: readonly string[];
  /** Addresses listened on (`host:port`, or `unix:<path>` for the control socket). */
  readonly net: readonly string[];
}

/** The least a server with these options must be granted. */
export function grants(options: Options): Grants {
  const socket = options.controlSocket;
  return {
    read: [options.cert, options.key, options.controlTokenFile, socket, options.pidFile]
      .filter((path) => path !== undefined),
    // A Unix socket needs read and write of its path besides the net grant (Deno 2.9.6); the pid
    // file is written, locked and removed.
    write: [socket, options.pidFile].filter((path) => path !== undefined),
    net: [
      hostPort(options.hostname, options.port),
      socket === undefined
        ? hostPort(options.controlHostname, options.controlPort)
        : `unix:${socket}`,
    ],
  };
}

/** The `deno run` flags a server with these options needs (permissions, and nothing more), plus {@linkcode NO_CONFIG} and, except for the node front, {@linkcode V8_FLAGS}. */
export function permissionFlags(options: Options): string[] {
  const { read, write, net } = grants(options);
  const tls = options.key !== undefined;
  // The node:https front runs far more JavaScript per request, and V8's defaults suit it better: the
  // semi-space cap cost it 1.4–1.6× CPU per request, --optimize-for-size 1.6–1.8× more.
  const flags = [
    "--no-prompt",
    NO_CONFIG,
    ...(tls && options.tlsFront === "node" ? [] : [V8_FLAGS]),
    `--allow-read=${read.join(",")}`,
    ...(write.length === 0 ? [] : [`--allow-write=${write.join(",")}`]),
    `--allow-net=${net.join(",")}`,
  ];
  // The native HTTPS front binds each certificate's listener with SO_REUSEPORT, which Deno gates.
  return tls && options.tlsFront !== "node" ? [...flags, "--unstable-net"] : flags;
}

/**
 * The whole `deno run … main.ts …` line for a server with these options, run from the project
 * directory as deno.json's tasks are: {@linkcode permissionFlags}, then `main.ts` and its
 * arguments, each quoted for a POSIX shell where needed.
 */
export function denoRunLine(options: Options, mainArgs: readonly string[]): string {
  return ["deno", "run", ...permissionFlags(options), "main.ts", ...mainArgs].map(shellWord)
    .join(" ");
}

/** The server's own flags out of a command line: without `--print-command` and `--task <name>`. */
export function serverArgs(args: readonly string[]): string[] {
  const kept: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === "--") {
      kept.push(...args.slice(i));
      break;
    }
    if (arg === "--print-command" || arg.startsWith("--task=")) continue;
    if (arg === "--task") {
      i++;
      continue;
    }
    kept.push(arg);
  }
  return kept;
}

const PLAIN_WORD = /^[\w@%+=:,./-]+$/;

/** A word as a POSIX shell reads it back: as it is when plain, else in single quotes. */
export function shellWord(word: string): string {
  return PLAIN_WORD.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * Notices: what the server tells its operator about how it runs, beyond
 * reload outcomes: which HTTPS front serves and why, and whether the kernel
 * keeps per-request clients safe during swaps. A closed set, keyed by `kind`.
 *
 * @module
 */

import type { ConnectionMigration } from "./native_front.ts";
import type { NativeFrontUnavailable, TlsFrontName } from "./tls_front.ts";

/**
 * Something the operator should know about how the server runs.
 *
 * @example Log notices next to reload outcomes
 * ```ts ignore
 * serveWithReload({ ...options, onNotice: (notice) => console.log(formatNotice(notice)) });
 * ```
 */
export type Notice =
  | {
    /** The HTTPS front that serves the app, and why when it is not the one asked for. */
    readonly kind: "tls_front";
    readonly front: TlsFrontName;
    readonly protocols: readonly string[];
    readonly fallback?: NativeFrontUnavailable;
  }
  | {
    /** Whether connections waiting in a closed listener's queue move to the new one (`net.ipv4.tcp_migrate_req`). */
    readonly kind: "connection_migration";
    readonly migration: ConnectionMigration;
  };

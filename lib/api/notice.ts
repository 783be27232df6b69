/**
 * Notices: what the server tells its operator beyond reload outcomes: which
 * HTTPS front serves and why, whether the kernel keeps per-request clients safe
 * during swaps, an expiry coming close, and the file watcher's state. A closed
 * set, keyed by `kind`.
 *
 * @module
 */

import type { Certificate } from "../certificate/certificate.ts";
import type { ConnectionMigration } from "../serve/tls/native_front.ts";
import type { NativeFrontUnavailable, TlsFrontName } from "../serve/tls/tls_front.ts";

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
  }
  | {
    /** The active certificate expires within the warning window (at startup, after a reload, daily). */
    readonly kind: "expiry";
    readonly at: Date;
    readonly certificate: Certificate;
    readonly daysLeft: number;
    readonly warnDays: number;
  }
  | {
    /** The files are watched for changes (`watch: true`). */
    readonly kind: "watching";
    readonly paths: readonly string[];
    readonly pollMs: number;
  }
  | {
    /** The file-event watcher failed; changes are still found by polling. */
    readonly kind: "watcher_failed";
    readonly reason: string;
    readonly pollMs: number;
  };

/** Whether a notice asks the operator to act (`warning`) or only informs (`info`). */
export function noticeLevel(notice: Notice): "info" | "warning" {
  switch (notice.kind) {
    case "tls_front":
      return notice.fallback === undefined ? "info" : "warning";
    case "connection_migration":
      return notice.migration === "on" ? "info" : "warning";
    case "expiry":
    case "watcher_failed":
      return "warning";
    case "watching":
      return "info";
  }
}

/**
 * Notices: what the server tells its operator beyond reload outcomes: which
 * HTTPS front serves and why, whether the kernel keeps per-request clients safe
 * during swaps, an expiry coming close, and the file watcher's state. A closed
 * set, keyed by `kind`.
 *
 * @module
 */

import { unreachable } from "../ground/result.ts";
import { type ExpiryNotice, formatExpiryNotice } from "../reload/expiry.ts";
import { formatWatcherNotice, type WatcherNotice } from "../reload/watcher.ts";
import { type ConnectionMigrationNotice, formatMigration } from "../serve/tls/native_front.ts";
import { formatTlsFrontNotice, type TlsFrontNotice } from "../serve/tls/tls_front.ts";
import { type DescriptorNotice, formatDescriptorNotice } from "../serve/connections.ts";

/**
 * Something the operator should know about how the server runs. Each kind is
 * defined, and worded, by the layer that produces it.
 *
 * @example Log notices next to reload outcomes
 * ```ts ignore
 * serveWithReload({ ...options, onNotice: (notice) => console.log(formatNotice(notice)) });
 * ```
 */
export type Notice =
  | TlsFrontNotice
  | ConnectionMigrationNotice
  | ExpiryNotice
  | WatcherNotice
  | DescriptorNotice;

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
    case "descriptors":
      return notice.event.kind === "exhausted" ? "warning" : "info";
  }
}

/**
 * Renders a notice as the line an operator reads.
 *
 * @example
 * ```ts ignore
 * serveWithReload({ ...options, onNotice: (notice) => console.log(formatNotice(notice)) });
 * ```
 */
export function formatNotice(notice: Notice): string {
  switch (notice.kind) {
    case "tls_front":
      return formatTlsFrontNotice(notice);
    case "connection_migration":
      return formatMigration(notice.migration);
    case "expiry":
      return formatExpiryNotice(notice);
    case "watching":
    case "watcher_failed":
      return formatWatcherNotice(notice);
    case "descriptors":
      return formatDescriptorNotice(notice.event);
    default:
      return unreachable(notice);
  }
}

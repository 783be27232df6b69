/**
 * Prometheus metrics of the servers themselves (`GET /metrics`, after the
 * reload metrics): connections open, accepted, refused at `accept()` and
 * closed by the server, per server and reason, and the log lines the process
 * had to drop.
 *
 * @module
 */

import { type AcceptFailure, CLOSE_REASONS, type ConnectionStats } from "../serve/connections.ts";
import type { ServerName } from "../serve/listen.ts";
import { metricBlock, metricName } from "./metrics.ts";

const ACCEPT_FAILURES: readonly AcceptFailure[] = ["descriptors", "other"];

/** The connection counters of each server, and a count of dropped log lines. */
export class ServerMetrics {
  readonly #servers: [ServerName, ConnectionStats][] = [];
  readonly #droppedLogLines: () => number;

  /** Metrics reading `droppedLogLines` (0 when the caller keeps no log). */
  constructor(droppedLogLines: () => number = () => 0) {
    this.#droppedLogLines = droppedLogLines;
  }

  /** Adds a server's counters. */
  add(server: ServerName, stats: ConnectionStats): void {
    this.#servers.push([server, stats]);
  }

  /** The metrics in the Prometheus text format. */
  render(): string {
    const each = (suffix: string, value: (stats: ConnectionStats) => number) =>
      this.#servers.map(([server, stats]) =>
        `${metricName(suffix)}{server="${server}"} ${value(stats)}`
      );
    const byReason = <R extends string>(
      suffix: string,
      reasons: readonly R[],
      count: (stats: ConnectionStats, reason: R) => number,
    ) =>
      this.#servers.flatMap(([server, stats]) =>
        reasons.map((reason) =>
          `${metricName(suffix)}{server="${server}",reason="${reason}"} ${count(stats, reason)}`
        )
      );
    return [
      metricBlock(
        "connections_open",
        "gauge",
        "Connections open now, by server (app, control).",
        each("connections_open", (stats) => stats.open),
      ),
      metricBlock(
        "connections_accepted_total",
        "counter",
        "Connections accepted, by server.",
        each("connections_accepted_total", (stats) => stats.accepted),
      ),
      metricBlock(
        "accepts_refused_total",
        "counter",
        "Failed accept() calls, by server and reason (descriptors: out of file descriptors).",
        byReason(
          "accepts_refused_total",
          ACCEPT_FAILURES,
          (stats, reason) => stats.refused[reason],
        ),
      ),
      metricBlock(
        "connections_closed_total",
        "counter",
        "Connections the server closed, by server and reason (timeouts, shed for descriptors, stop).",
        byReason(
          "connections_closed_total",
          CLOSE_REASONS,
          (stats, reason) => stats.closed[reason],
        ),
      ),
      metricBlock(
        "log_lines_dropped_total",
        "counter",
        "Log lines that could not be written (reader stalled or gone, disk full) and were dropped.",
        [`${metricName("log_lines_dropped_total")} ${this.#droppedLogLines()}`],
      ),
    ].join("\n\n") + "\n";
  }
}

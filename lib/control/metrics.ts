/**
 * Prometheus metrics of reloads and of the active certificate, in the text
 * exposition format (`GET /metrics`), written directly. `prom-client` 15 was
 * used first and measured: it cost ~19 MiB of RSS (its index loads cluster,
 * http, zlib and default metrics) and ~5 µs per reload for eight metrics. This
 * writes what it wrote, byte for byte, and the tests run `promtool check
 * metrics` on it.
 *
 * @module
 */

import type { Certificate } from "../certificate/certificate.ts";
import type { ReloadOutcome } from "../reload/reloader.ts";
import { DEFAULT_WARN_DAYS, earliestExpiry, expiresSoon } from "../reload/expiry.ts";
import type { DiskState } from "../reload/drift.ts";

const PREFIX = "signal_server_";
const MS_PER_SECOND = 1000;
/** Reload duration buckets, in seconds: a reload takes about a millisecond, a slow disk far more. */
const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5];
const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** The metrics of one server: fed with every outcome, rendered on request. */
export class ReloadMetrics {
  readonly #warnDays: number;
  /** Counts by `trigger\0result`, in first-seen order. */
  readonly #reloads = new Map<string, number>();
  #lastSuccessful = 0;
  #lastSuccess = 0;
  readonly #buckets = new Array<number>(DURATION_BUCKETS.length).fill(0);
  #durationSum = 0;
  #durationCount = 0;
  #active: Certificate | undefined;
  /** Failed reloads by error kind, in first-seen order. */
  readonly #failures = new Map<string, number>();
  readonly #disk: (() => Promise<DiskState>) | undefined;

  /**
   * Starts with no outcome recorded; the certificate gauges appear with the first one. With `disk`,
   * each render looks at the files for the drift gauge.
   */
  constructor(warnDays: number = DEFAULT_WARN_DAYS, disk?: () => Promise<DiskState>) {
    this.#warnDays = warnDays;
    this.#disk = disk;
  }

  /** Counts an outcome, updates the last-reload gauges and the duration histogram, and notes the active certificate. */
  record(outcome: ReloadOutcome): void {
    this.#active = outcome.certificate;
    const key = `${outcome.trigger}\0${outcome.kind}`;
    this.#reloads.set(key, (this.#reloads.get(key) ?? 0) + 1);
    if (outcome.kind === "failed") {
      const kind = outcome.error.kind;
      this.#failures.set(kind, (this.#failures.get(kind) ?? 0) + 1);
    }
    const succeeded = outcome.kind !== "failed";
    this.#lastSuccessful = succeeded ? 1 : 0;
    if (succeeded) this.#lastSuccess = outcome.at.getTime() / MS_PER_SECOND;
    const seconds = outcome.durationMs / MS_PER_SECOND;
    const bucket = DURATION_BUCKETS.findIndex((bound) => seconds <= bound);
    if (bucket !== -1) this.#buckets[bucket] = (this.#buckets[bucket] ?? 0) + 1;
    this.#durationSum += seconds;
    this.#durationCount += 1;
  }

  /** The metrics in the Prometheus text format. */
  async render(): Promise<string> {
    const certificate = this.#active;
    const disk = this.#disk === undefined ? undefined : await this.#disk();
    const name = metricName;
    const block = metricBlock;
    const gauge = (suffix: string, help: string, value: number) =>
      block(suffix, "gauge", help, [`${name(suffix)} ${_value(value)}`]);
    const reloads = [...this.#reloads].map(([key, count]) => {
      const [trigger, result] = key.split("\0");
      return `${name("reloads_total")}{trigger="${trigger}",result="${result}"} ${count}`;
    });
    let cumulative = 0;
    const duration = name("reload_duration_seconds");
    const histogram = [
      ...DURATION_BUCKETS.map((bound, i) =>
        `${duration}_bucket{le="${bound}"} ${(cumulative += this.#buckets[i] ?? 0)}`
      ),
      `${duration}_bucket{le="+Inf"} ${this.#durationCount}`,
      `${duration}_sum ${_value(this.#durationSum)}`,
      `${duration}_count ${this.#durationCount}`,
    ];
    const blocks = [
      block(
        "reloads_total",
        "counter",
        "Certificate loads and reloads, by trigger and result (loaded, reloaded, unchanged, failed).",
        reloads,
      ),
      gauge(
        "last_reload_successful",
        "Whether the last load or reload succeeded (1) or failed (0).",
        this.#lastSuccessful,
      ),
      gauge(
        "last_reload_success_timestamp_seconds",
        "Unix time of the last successful load or reload.",
        this.#lastSuccess,
      ),
      block(
        "reload_duration_seconds",
        "histogram",
        "Time to read, check and activate the certificate files.",
        histogram,
      ),
      gauge(
        "certificate_not_before_timestamp_seconds",
        "Start of validity of the certificate being served, as Unix time.",
        certificate ? certificate.notBefore.getTime() / MS_PER_SECOND : 0,
      ),
      block(
        "certificate_not_after_timestamp_seconds",
        "gauge",
        "End of validity of the chain being served, as Unix time: its certificate that expires " +
          "first, named by position (1 is the leaf) and subject.",
        certificate === undefined
          ? []
          : [_earliestLine(name("certificate_not_after_timestamp_seconds"), certificate)],
      ),
      block(
        "chain_certificate_not_after_timestamp_seconds",
        "gauge",
        "End of validity of each certificate of the chain being served, as Unix time, by " +
          "position (1 is the leaf) and subject.",
        (certificate?.chain ?? []).map((entry, index) =>
          `${name("chain_certificate_not_after_timestamp_seconds")}{position="${index + 1}",` +
          `subject="${_label(entry.subject)}"} ${entry.notAfter.getTime() / MS_PER_SECOND}`
        ),
      ),
      gauge(
        "certificate_expiry_warning",
        `Whether the chain being served expires within ${this.#warnDays} days (1) or not (0).`,
        certificate && expiresSoon(certificate, new Date(), this.#warnDays) ? 1 : 0,
      ),
      block(
        "certificate_info",
        "gauge",
        "The certificate being served: its file, subject and SHA-256 fingerprint (always 1).",
        certificate === undefined ? [] : [
          `${name("certificate_info")}{path="${_label(certificate.path)}",subject="${
            _label(certificate.subject)
          }",fingerprint_sha256="${_label(certificate.fingerprint256)}"} 1`,
        ],
      ),
      block(
        "reload_failures_total",
        "counter",
        "Failed reloads by error kind (expired, names_dropped, key_mismatch, ...).",
        [...this.#failures].map(([kind, count]) =>
          `${name("reload_failures_total")}{kind="${kind}"} ${count}`
        ),
      ),
      ...(disk === undefined ? [] : [
        gauge(
          "certificate_disk_drift",
          "Whether the certificate files on disk no longer hold what is served (1: changed, " +
            "invalid or unreadable) or still do (0).",
          disk.state === "same" ? 0 : 1,
        ),
      ]),
    ];
    return blocks.join("\n\n") + "\n";
  }

  /** The content type of {@linkcode ReloadMetrics.render}'s text. */
  get contentType(): string {
    return CONTENT_TYPE;
  }
}

/** The full name of one of our metrics: `signal_server_` and the suffix. */
export function metricName(suffix: string): string {
  return PREFIX + suffix;
}

/** One metric in the text format: its HELP and TYPE lines, then its samples. */
export function metricBlock(suffix: string, type: string, help: string, lines: string[]): string {
  const name = metricName(suffix);
  return [`# HELP ${name} ${_escape(help)}`, `# TYPE ${name} ${type}`, ...lines].join("\n");
}

function _earliestLine(metric: string, certificate: Certificate): string {
  const earliest = earliestExpiry(certificate);
  return `${metric}{position="${earliest.position}",subject="${_label(earliest.subject)}"} ` +
    `${earliest.notAfter.getTime() / MS_PER_SECOND}`;
}

function _escape(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

function _label(text: string): string {
  return _escape(text).replace(/"/g, '\\"');
}

function _value(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (!Number.isFinite(value)) return value < 0 ? "-Inf" : "+Inf";
  return `${value}`;
}

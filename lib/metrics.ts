/**
 * Prometheus metrics of reloads and of the active certificate, in the text
 * exposition format (`GET /metrics`), with `prom-client` and a registry of
 * our own (no default process metrics, no global state).
 *
 * @module
 */

import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { Certificate } from "./certificate.ts";
import type { ReloadOutcome } from "./reloader.ts";
import { DEFAULT_WARN_DAYS, expiresSoon } from "./expiry.ts";

const PREFIX = "signal_server_";
const MS_PER_SECOND = 1000;
/** Reload duration buckets, in seconds: a reload takes about a millisecond, a slow disk far more. */
const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5];

/** The metrics of one server: fed with every outcome, rendered on request. */
export class ReloadMetrics {
  readonly #registry = new Registry();
  readonly #reloads: Counter<"trigger" | "result">;
  readonly #lastSuccessful: Gauge;
  readonly #lastSuccess: Gauge;
  readonly #duration: Histogram;
  #active: Certificate | undefined;

  /** Starts with no outcome recorded; the certificate gauges appear with the first one. */
  constructor(warnDays: number = DEFAULT_WARN_DAYS) {
    const active = () => this.#active;
    const registers = [this.#registry];
    this.#reloads = new Counter({
      name: `${PREFIX}reloads_total`,
      help:
        "Certificate loads and reloads, by trigger and result (loaded, reloaded, unchanged, failed).",
      labelNames: ["trigger", "result"],
      registers,
    });
    this.#lastSuccessful = new Gauge({
      name: `${PREFIX}last_reload_successful`,
      help: "Whether the last load or reload succeeded (1) or failed (0).",
      registers,
    });
    this.#lastSuccess = new Gauge({
      name: `${PREFIX}last_reload_success_timestamp_seconds`,
      help: "Unix time of the last successful load or reload.",
      registers,
    });
    this.#duration = new Histogram({
      name: `${PREFIX}reload_duration_seconds`,
      help: "Time to read, check and activate the certificate files.",
      buckets: DURATION_BUCKETS,
      registers,
    });
    new Gauge({
      name: `${PREFIX}certificate_not_before_timestamp_seconds`,
      help: "Start of validity of the certificate being served, as Unix time.",
      registers,
      collect() {
        const certificate = active();
        if (certificate) this.set(certificate.notBefore.getTime() / MS_PER_SECOND);
      },
    });
    new Gauge({
      name: `${PREFIX}certificate_not_after_timestamp_seconds`,
      help: "End of validity of the certificate being served, as Unix time.",
      registers,
      collect() {
        const certificate = active();
        if (certificate) this.set(certificate.notAfter.getTime() / MS_PER_SECOND);
      },
    });
    new Gauge({
      name: `${PREFIX}certificate_expiry_warning`,
      help: `Whether the certificate being served expires within ${warnDays} days (1) or not (0).`,
      registers,
      collect() {
        const certificate = active();
        if (certificate) this.set(expiresSoon(certificate, new Date(), warnDays) ? 1 : 0);
      },
    });
    new Gauge({
      name: `${PREFIX}certificate_info`,
      help: "The certificate being served: its file, subject and SHA-256 fingerprint (always 1).",
      labelNames: ["path", "subject", "fingerprint_sha256"],
      registers,
      collect() {
        const certificate = active();
        this.reset();
        if (certificate === undefined) return;
        this.set({
          path: certificate.path,
          subject: certificate.subject,
          fingerprint_sha256: certificate.fingerprint256,
        }, 1);
      },
    });
  }

  /** Counts an outcome, updates the last-reload gauges and the duration histogram, and notes the active certificate. */
  record(outcome: ReloadOutcome): void {
    this.#active = outcome.certificate;
    this.#reloads.inc({ trigger: outcome.trigger, result: outcome.kind });
    const succeeded = outcome.kind !== "failed";
    this.#lastSuccessful.set(succeeded ? 1 : 0);
    if (succeeded) this.#lastSuccess.set(outcome.at.getTime() / MS_PER_SECOND);
    this.#duration.observe(outcome.durationMs / MS_PER_SECOND);
  }

  /** The metrics in the Prometheus text format. */
  render(): Promise<string> {
    return this.#registry.metrics();
  }

  /** The content type of {@linkcode ReloadMetrics.render}'s text. */
  get contentType(): string {
    return this.#registry.contentType;
  }
}

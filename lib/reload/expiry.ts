/**
 * Expiry warnings (`--warn-days`): whether the active certificate expires
 * within the warning window, and a warner that says so at startup, after each
 * reload, and once a day while it stays true.
 *
 * @module
 */

import type { Certificate } from "../certificate/certificate.ts";
import { daysLeft, formatDaysLeft, formatTime, MS_PER_DAY } from "../ground/time.ts";
import { every } from "../ground/timer.ts";

/** Days before expiry from which the server warns, unless told otherwise. */
export const DEFAULT_WARN_DAYS = 14;

/** The notice that the active certificate expires within the warning window. */
export interface ExpiryNotice {
  /** Discriminant. */
  readonly kind: "expiry";
  /** When it was checked. */
  readonly at: Date;
  /** The certificate being served. */
  readonly certificate: Certificate;
  /** Whole days left at `at`. */
  readonly daysLeft: number;
  /** The warning window, in days. */
  readonly warnDays: number;
}

/** Whether a certificate expires within `warnDays` of `now` (or has expired). */
export function expiresSoon(certificate: Certificate, now: Date, warnDays: number): boolean {
  return certificate.notAfter.getTime() - now.getTime() < warnDays * MS_PER_DAY;
}

/** Says when the active certificate expires within the window: on each check, and daily. */
export class ExpiryWarner {
  readonly #warnDays: number;
  readonly #notify: (notice: ExpiryNotice) => void;
  readonly #clock: () => Date;
  #daily: AbortController | undefined;

  /** Warns through `notify` when the certificate is within `warnDays` of its expiry. */
  constructor(warnDays: number, notify: (notice: ExpiryNotice) => void, clock = () => new Date()) {
    this.#warnDays = warnDays;
    this.#notify = notify;
    this.#clock = clock;
  }

  /** Warns now if `certificate` expires within the window; returns whether it did. */
  check(certificate: Certificate): boolean {
    const at = this.#clock();
    if (!expiresSoon(certificate, at, this.#warnDays)) return false;
    this.#notify({
      kind: "expiry",
      at,
      certificate,
      daysLeft: daysLeft(certificate.notAfter, at),
      warnDays: this.#warnDays,
    });
    return true;
  }

  /** Checks `active()` once a day until stopped; once stopped, the process can exit within a second. */
  startDaily(active: () => Certificate, everyMs: number = MS_PER_DAY): void {
    this.#daily?.abort();
    const daily = new AbortController();
    void every(everyMs, () => this.check(active()), daily.signal);
    this.#daily = daily;
  }

  /** Stops the daily check. */
  stop(): void {
    this.#daily?.abort();
  }
}

/** Renders an expiry warning: which certificate, when, and what to do. */
export function formatExpiryNotice(notice: ExpiryNotice): string {
  return `certificate "${notice.certificate.path}" (${notice.certificate.subject}) expires ` +
    `${formatTime(notice.certificate.notAfter)} (${
      formatDaysLeft(notice.certificate.notAfter, notice.at)
    }), within the ${notice.warnDays}-day warning window; renew it and reload`;
}

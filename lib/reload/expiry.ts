/**
 * Expiry warnings (`--warn-days`): whether the active certificate's chain
 * expires within the warning window, and a warner that says so at startup,
 * after each reload, and once a day while it stays true. The earliest
 * `notAfter` of the chain counts, and the words name which certificate it is:
 * an intermediate that expires first breaks every client while the leaf
 * looks fine.
 *
 * @module
 */

import type { Certificate } from "../certificate/certificate.ts";
import { daysLeft, formatDaysLeft, formatTime, MS_PER_DAY } from "../ground/time.ts";
import { every } from "../ground/timer.ts";

/** Days before expiry from which the server warns, unless told otherwise. */
export const DEFAULT_WARN_DAYS = 14;

/** The certificate of a chain that expires first: its position (1 for the leaf), subject and end. */
export interface EarliestExpiry {
  /** Position in the chain, 1 for the leaf. */
  readonly position: number;
  /** Its subject. */
  readonly subject: string;
  /** Its end of validity. */
  readonly notAfter: Date;
}

/** The chain's certificate that expires first; the leaf when it ties. */
export function earliestExpiry(certificate: Certificate): EarliestExpiry {
  let earliest: EarliestExpiry = {
    position: 1,
    subject: certificate.subject,
    notAfter: certificate.notAfter,
  };
  for (const [index, entry] of certificate.chain.entries()) {
    if (entry.notAfter < earliest.notAfter) {
      earliest = { position: index + 1, subject: entry.subject, notAfter: entry.notAfter };
    }
  }
  return earliest;
}

/** Names the certificate of a chain that expires first: the leaf, or `certificate 2 of "…" (…), an issuer in its chain`. */
export function describeExpiring(certificate: Certificate, earliest: EarliestExpiry): string {
  return earliest.position === 1
    ? `certificate "${certificate.path}" (${earliest.subject})`
    : `certificate ${earliest.position} of "${certificate.path}" (${earliest.subject}), an ` +
      "issuer in its chain,";
}

/** The notice that the active certificate expires within the warning window. */
export interface ExpiryNotice {
  /** Discriminant. */
  readonly kind: "expiry";
  /** When it was checked. */
  readonly at: Date;
  /** The certificate being served. */
  readonly certificate: Certificate;
  /** The chain's certificate that expires first. */
  readonly earliest: EarliestExpiry;
  /** Whole days left at `at`, until the earliest `notAfter` of the chain. */
  readonly daysLeft: number;
  /** The warning window, in days. */
  readonly warnDays: number;
}

/** Whether a certificate's chain expires within `warnDays` of `now` (or has expired). */
export function expiresSoon(certificate: Certificate, now: Date, warnDays: number): boolean {
  return earliestExpiry(certificate).notAfter.getTime() - now.getTime() < warnDays * MS_PER_DAY;
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
    const earliest = earliestExpiry(certificate);
    this.#notify({
      kind: "expiry",
      at,
      certificate,
      earliest,
      daysLeft: daysLeft(earliest.notAfter, at),
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
  const { certificate, earliest } = notice;
  return `${describeExpiring(certificate, earliest)} expires ${formatTime(earliest.notAfter)} (${
    formatDaysLeft(earliest.notAfter, notice.at)
  }), within the ${notice.warnDays}-day warning window; renew ` +
    (earliest.position === 1 ? "it" : "the chain") + " and reload";
}

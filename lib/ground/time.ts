/**
 * How times read in every line: ISO 8601 in UTC to the second, and whole
 * days left until a moment. Part of the ground layer: imports nothing.
 *
 * @module
 */

/** Milliseconds in a day. */
export const MS_PER_DAY = 24 * 60 * 60 * 1000;

/** A time as every line writes it: ISO 8601 in UTC, to the second. */
export function formatTime(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Whole days from `now` until `notAfter`; negative once it has passed. */
export function daysLeft(notAfter: Date, now: Date): number {
  return Math.floor((notAfter.getTime() - now.getTime()) / MS_PER_DAY);
}

/** Days left as words: `12 days left`, `1 day left`, `expired 3 days ago`. */
export function formatDaysLeft(notAfter: Date, now: Date): string {
  const days = daysLeft(notAfter, now);
  if (days < 0) return `expired ${-days} days ago`;
  return days === 1 ? "1 day left" : `${days} days left`;
}

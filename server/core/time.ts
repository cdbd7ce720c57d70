import { badInput } from "./errors.js";

/** Instants are integer milliseconds since the Unix epoch, UTC. */
export type Instant = number;

export const MINUTE_MS = 60_000;
export const DAY_MS = 86_400_000;

/** Dates in the future beyond this are refused: clocks drift, but not by more. */
export const MAX_FUTURE_SKEW_MS = 5 * MINUTE_MS;

const ISO_UTC = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?Z)?$/;

/**
 * Parses an ISO-8601 UTC date ("2024-05-01", "2024-05-01T10:00:00Z", "…T10:00:00.123Z").
 * Offsets other than Z, impossible dates (Feb 30) and years before 1970 are refused, so every
 * stored instant means exactly one moment.
 */
export function parseInstant(text: unknown, field: string): Instant {
  if (typeof text !== "string") throw badInput(field, `${field} must be an ISO-8601 UTC date string`);
  const match = ISO_UTC.exec(text);
  if (!match) {
    throw badInput(field, `${field} must be an ISO-8601 date in UTC such as "2024-05-01T10:00:00Z"`);
  }
  const [, y, mo, d, h = "0", mi = "0", s = "0", ms = "0"] = match;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const instant = Date.UTC(year, month - 1, day, Number(h), Number(mi), Number(s), Number(ms.padEnd(3, "0")));
  const check = new Date(instant);
  if (
    year < 1970 ||
    check.getUTCFullYear() !== year ||
    check.getUTCMonth() !== month - 1 ||
    check.getUTCDate() !== day ||
    Number(h) > 23 ||
    Number(mi) > 59 ||
    Number(s) > 59
  ) {
    throw badInput(field, `${field} is not a valid date between 1970 and 9999`);
  }
  return instant;
}

export function formatInstant(instant: Instant): string {
  return new Date(instant).toISOString();
}

/** Refuses a date more than MAX_FUTURE_SKEW_MS after now. */
export function assertNotFuture(instant: Instant, now: Instant, field: string): void {
  if (instant > now + MAX_FUTURE_SKEW_MS) {
    throw badInput(field, `${field} is more than 5 minutes in the future`);
  }
}

/**
 * The same moment one calendar year later, UTC. A 29 February maps to 28 February: a lot must
 * not outlive its year, and "one year" never means 366 days here.
 */
export function addOneYear(instant: Instant): Instant {
  const date = new Date(instant);
  const year = date.getUTCFullYear() + 1;
  const month = date.getUTCMonth();
  const lastDay = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  return Date.UTC(
    year,
    month,
    Math.min(date.getUTCDate(), lastDay),
    date.getUTCHours(),
    date.getUTCMinutes(),
    date.getUTCSeconds(),
    date.getUTCMilliseconds(),
  );
}

/** A lot or pack counts for usage at t when purchasedAt ≤ t < expiresAt. */
export function isValidAt(source: { purchasedAt: Instant; expiresAt: Instant }, t: Instant): boolean {
  return source.purchasedAt <= t && t < source.expiresAt;
}

import { badInput } from "./errors.js";

/** Instants are integer milliseconds since the Unix epoch, UTC. */
export type Instant = number;

export const MINUTE_MS = 60_000;
export const DAY_MS = 86_400_000;

/** Dates in the future beyond this are refused: clocks drift, but not by more. */
export const MAX_FUTURE_SKEW_MS = 5 * MINUTE_MS;

/**
 * An RFC 3339 date-time (T or a space between date and time, Z or an offset, any number of
 * fractional second digits; T and Z in either case), or a plain date meaning midnight UTC.
 * Minutes without seconds ("T10:00Z") are accepted as before RFC 3339 was.
 */
const RFC_3339 =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(?:([Zz])|([+-])(\d{2}):(\d{2})))?$/;

const EXPECTED = 'an RFC 3339 date-time such as "2024-05-01T10:00:00Z" or "2024-05-01T19:00:00.123456+09:00", or a date such as "2024-05-01" (midnight UTC)';

/** The last instant a four-digit year can write: 9999-12-31T23:59:59.999Z. */
const MAX_INSTANT = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/**
 * Parses an RFC 3339 instant and normalises it to UTC epoch milliseconds, so two spellings of one
 * moment ("…T19:00:00+09:00", "…T10:00:00.000000Z") are the same value, and the same payload for
 * idempotency. Instants are kept to the millisecond: digits below it (Java and Go write
 * microseconds and nanoseconds) are dropped, truncating towards the past as ISO-8601 readers do,
 * rather than refusing nearly every event such clients send. Impossible dates (Feb 30), leap
 * seconds and instants outside 1970–9999 are refused, so every stored instant is one real moment.
 */
export function parseInstant(text: unknown, field: string): Instant {
  if (typeof text !== "string") throw badInput(field, `${field} must be a string: ${EXPECTED}`);
  const match = RFC_3339.exec(text);
  if (!match) throw badInput(field, `${field} must be ${EXPECTED}`);
  const [, y, mo, d, h = "0", mi = "0", s = "0", fraction = "", zulu, sign, offsetH, offsetM] = match;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  if (year < 1970) throw badInput(field, `${field} must be between 1970 and 9999 (UTC)`);
  const local = Date.UTC(year, month - 1, day, Number(h), Number(mi), Number(s), Number(fraction.slice(0, 3).padEnd(3, "0")));
  const check = new Date(local);
  const realDate = check.getUTCFullYear() === year && check.getUTCMonth() === month - 1 && check.getUTCDate() === day;
  const realTime = Number(h) <= 23 && Number(mi) <= 59 && Number(s) <= 59;
  const offsetValid = sign === undefined || (Number(offsetH) <= 23 && Number(offsetM) <= 59);
  if (!realDate || !realTime || !offsetValid) throw badInput(field, `${field} is not a real date and time: ${EXPECTED}`);
  const offsetMs = zulu || sign === undefined ? 0 : (sign === "-" ? -1 : 1) * (Number(offsetH) * 60 + Number(offsetM)) * MINUTE_MS;
  const instant = local - offsetMs;
  if (instant < 0 || instant > MAX_INSTANT) throw badInput(field, `${field} must be between 1970 and 9999 (UTC)`);
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

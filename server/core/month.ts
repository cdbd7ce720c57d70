/**
 * UTC calendar months, the period of the tiered regime (domain §8): free caps, free-tier
 * remainders and PAYG statements are all counted per calendar month (UTC) of `occurredAt`.
 * A month is named "YYYY-MM", as the GraphQL contract carries it.
 */
import { badInput } from "./errors.js";
import type { Instant } from "./time.js";

/** "YYYY-MM" */
export type Month = string;

const MONTH = /^(\d{4})-(0[1-9]|1[0-2])$/;

/** The month that contains `t`. */
export function monthOf(t: Instant): Month {
  return new Date(t).toISOString().slice(0, 7);
}

/** The first instant of the month. */
export function monthStart(month: Month): Instant {
  const [year, monthNumber] = month.split("-").map(Number) as [number, number];
  return Date.UTC(year, monthNumber - 1, 1);
}

/** The first instant of the month after the one that contains `t`. */
export function nextMonthStart(t: Instant): Instant {
  const date = new Date(t);
  return Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1);
}

/** Parses a "YYYY-MM" month argument, naming the field when it is not one. */
export function parseMonth(text: unknown, field: string): Month {
  if (typeof text !== "string" || !MONTH.exec(text) || text < "1970-01") {
    throw badInput(field, `${field} must be a month such as "2026-01"`);
  }
  return text;
}

import { describe, expect, it } from "vitest";
import { refusalOf } from "../fixtures/ledger-assertions.js";
import { addOneYear, assertNotFuture, formatInstant, isValidAt, MAX_FUTURE_SKEW_MS, parseInstant } from "../../server/core/time.js";

const FIELD = "input.occurredAt";
const utc = (iso: string) => Date.parse(iso);

describe("parsing RFC 3339 instants to UTC milliseconds", () => {
  it.each([
    ["2024-05-01", "2024-05-01T00:00:00.000Z"],
    ["2024-05-01T10:00:00Z", "2024-05-01T10:00:00.000Z"],
    ["2024-05-01T10:00Z", "2024-05-01T10:00:00.000Z"],
    ["2024-05-01T10:00:00.123Z", "2024-05-01T10:00:00.123Z"],
    ["2024-05-01T10:00:00.1Z", "2024-05-01T10:00:00.100Z"],
    ["2024-02-29", "2024-02-29T00:00:00.000Z"],
    ["1970-01-01", "1970-01-01T00:00:00.000Z"],
    ["2024-05-01T23:59:59.999Z", "2024-05-01T23:59:59.999Z"],
    // Java's Instant and Go's RFC3339Nano: digits below the millisecond are truncated.
    ["2024-05-01T09:00:00.123456Z", "2024-05-01T09:00:00.123Z"],
    ["2024-05-01T09:00:00.999999999Z", "2024-05-01T09:00:00.999Z"],
    // Python's isoformat() and offsets anywhere: normalised to UTC.
    ["2024-05-01T09:00:00+00:00", "2024-05-01T09:00:00.000Z"],
    ["2024-05-01T09:00:00-00:00", "2024-05-01T09:00:00.000Z"],
    ["2024-05-01T10:00:00+09:00", "2024-05-01T01:00:00.000Z"],
    ["2024-05-01T10:00:00.123456+05:30", "2024-05-01T04:30:00.123Z"],
    ["2024-04-30T22:00:00-03:00", "2024-05-01T01:00:00.000Z"],
    ["1970-01-01T09:00:00+09:00", "1970-01-01T00:00:00.000Z"],
    // RFC 3339 allows lower-case t and z, and a space between date and time.
    ["2024-05-01t10:00:00z", "2024-05-01T10:00:00.000Z"],
    ["2024-05-01 10:00:00Z", "2024-05-01T10:00:00.000Z"],
  ])("accepts %j as %s", (text, iso) => {
    expect(formatInstant(parseInstant(text, FIELD))).toBe(iso);
  });

  it("reads two spellings of one instant as the same value", () => {
    expect(parseInstant("2024-05-01T19:00:00.123456+09:00", FIELD)).toBe(parseInstant("2024-05-01T10:00:00.123Z", FIELD));
  });

  it.each([
    ["29 February of a common year", "2023-02-29"],
    ["30 February", "2024-02-30"],
    ["month 13", "2024-13-01"],
    ["day 0", "2024-05-00"],
    ["hour 24", "2024-05-01T24:00:00Z"],
    ["a leap second", "2024-05-01T10:00:60Z"],
    ["minute 60", "2024-05-01T10:60:00Z"],
    ["an offset hour 24", "2024-05-01T10:00:00+24:00"],
    ["an offset without a colon", "2024-05-01T10:00:00+0900"],
    ["an hour-only offset", "2024-05-01T10:00:00+09"],
    ["a local time without zone", "2024-05-01T10:00:00"],
    ["a year before 1970", "1969-12-31"],
    ["an instant before 1970 through its offset", "1970-01-01T00:30:00+01:00"],
    ["an instant after 9999 through its offset", "9999-12-31T23:30:00-01:00"],
    ["a compact date", "20240501"],
    ["the empty string", ""],
    ["a leading space", " 2024-05-01"],
    ["a fraction without digits", "2024-05-01T10:00:00.Z"],
    ["a comma as decimal sign", "2024-05-01T10:00:00,5Z"],
    ["a zone name", "2024-05-01T10:00:00 UTC"],
    ["a number", 0],
    ["null", null],
  ])("refuses %s as BAD_USER_INPUT naming the field and what is expected", (_why, value) => {
    const error = refusalOf(() => parseInstant(value, FIELD));
    expect({ code: error.code, field: error.field }).toEqual({ code: "BAD_USER_INPUT", field: FIELD });
    expect(error.message).toMatch(/RFC 3339|between 1970 and 9999/);
  });
});

describe("addOneYear: lots and packs are valid one calendar year", () => {
  it.each([
    ["a plain date", "2022-06-01T00:00:00.000Z", "2023-06-01T00:00:00.000Z"],
    ["the time of day is kept", "2023-07-07T09:15:30.250Z", "2024-07-07T09:15:30.250Z"],
    ["29 February maps to 28 February", "2024-02-29T12:34:56.789Z", "2025-02-28T12:34:56.789Z"],
    ["28 February before a leap day stays 28 February", "2023-02-28T00:00:00.000Z", "2024-02-28T00:00:00.000Z"],
    ["1 March across a leap day stays 1 March", "2023-03-01T00:00:00.000Z", "2024-03-01T00:00:00.000Z"],
    ["the last millisecond of a year", "2022-12-31T23:59:59.999Z", "2023-12-31T23:59:59.999Z"],
    ["the day credit sales ended", "2022-11-06T00:00:00.000Z", "2023-11-06T00:00:00.000Z"],
  ])("%s: %s → %s", (_why, from, to) => {
    expect(formatInstant(addOneYear(utc(from)))).toBe(to);
  });
});

describe("validity window purchasedAt ≤ t < expiresAt", () => {
  const source = { purchasedAt: utc("2023-01-01T00:00:00Z"), expiresAt: utc("2024-01-01T00:00:00Z") };
  it.each([
    ["one millisecond before purchase", "2022-12-31T23:59:59.999Z", false],
    ["at the purchase instant", "2023-01-01T00:00:00.000Z", true],
    ["mid-year", "2023-07-01T00:00:00.000Z", true],
    ["the last millisecond before expiry", "2023-12-31T23:59:59.999Z", true],
    ["at the expiry instant", "2024-01-01T00:00:00.000Z", false],
    ["after expiry", "2024-06-01T00:00:00.000Z", false],
  ])("%s (%s) → %s", (_why, t, valid) => {
    expect(isValidAt(source, utc(t))).toBe(valid);
  });
});

describe("refusing dates in the future", () => {
  const now = utc("2024-06-01T00:00:00Z");
  it.each([
    ["now", now],
    ["in the past", now - 1],
    ["exactly five minutes ahead (clock skew)", now + MAX_FUTURE_SKEW_MS],
  ])("accepts %s", (_why, instant) => {
    expect(() => assertNotFuture(instant, now, FIELD)).not.toThrow();
  });

  it("refuses more than five minutes ahead, naming the field", () => {
    const error = refusalOf(() => assertNotFuture(now + MAX_FUTURE_SKEW_MS + 1, now, FIELD));
    expect({ code: error.code, field: error.field }).toEqual({ code: "BAD_USER_INPUT", field: FIELD });
  });
});

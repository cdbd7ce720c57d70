import { describe, expect, it } from "vitest";
import { accountStatus, addDeficit, type DeficitState, GRACE_PERIOD_MS, graceEndsAt, reduceDeficit } from "../../server/core/account.js";
import { DAY_MS } from "../../server/core/time.js";
import { tokens, utc } from "./builders.js";

const booked = utc("2024-06-01T10:00:00Z");
const owing = (amount: string, graceStartedAt: number | null = booked): DeficitState => ({ deficitMicros: tokens(amount), graceStartedAt });
const clear: DeficitState = { deficitMicros: 0n, graceStartedAt: null };

describe("the grace period of a deficit", () => {
  it("lasts 14 days", () => {
    expect(GRACE_PERIOD_MS).toBe(14 * DAY_MS);
  });

  it.each([
    ["no deficit: no grace end", clear, null],
    ["a deficit: 14 days after it was booked", owing("5"), booked + 14 * DAY_MS],
  ])("%s", (_why, state, expected) => {
    expect(graceEndsAt(state)).toBe(expected);
  });

  it.each([
    ["an account that owes nothing is ACTIVE", clear, booked + 100 * DAY_MS, "ACTIVE"],
    ["a new deficit puts the account in GRACE", owing("5"), booked, "GRACE"],
    ["still GRACE one millisecond before 14 days", owing("5"), booked + GRACE_PERIOD_MS - 1, "GRACE"],
    ["RESTRICTED at exactly 14 days", owing("5"), booked + GRACE_PERIOD_MS, "RESTRICTED"],
    ["RESTRICTED long after while the deficit stands", owing("0.000001"), booked + 365 * DAY_MS, "RESTRICTED"],
  ])("%s", (_why, state, now, status) => {
    expect(accountStatus(state, now)).toBe(status);
  });
});

describe("booking and reducing a deficit", () => {
  it("starts the grace clock when the deficit goes from zero to positive", () => {
    expect(addDeficit(clear, tokens("5"), booked)).toEqual(owing("5", booked));
  });

  it("keeps the first grace clock when more deficit is booked", () => {
    const later = booked + 3 * DAY_MS;
    expect(addDeficit(owing("5"), tokens("2.5"), later)).toEqual(owing("7.5", booked));
  });

  it("books nothing for a zero amount and starts no clock", () => {
    expect(addDeficit(clear, 0n, booked)).toBe(clear);
  });

  it("keeps the grace clock while part of the deficit is still owed", () => {
    expect(reduceDeficit(owing("101"), tokens("100"))).toEqual(owing("1", booked));
  });

  it("ends the grace clock and the restriction when the deficit is back at zero", () => {
    const settled = reduceDeficit(owing("5"), tokens("5"));
    expect(settled).toEqual(clear);
    expect(accountStatus(settled, booked + 30 * DAY_MS)).toBe("ACTIVE");
  });

  it("starts a fresh 14-day clock for a deficit booked after one was settled", () => {
    const settled = reduceDeficit(owing("5"), tokens("5"));
    const again = booked + 30 * DAY_MS;
    const state = addDeficit(settled, tokens("1"), again);
    expect(graceEndsAt(state)).toBe(again + GRACE_PERIOD_MS);
    expect(accountStatus(state, again + DAY_MS)).toBe("GRACE");
  });

  it("refuses to reduce a deficit below zero", () => {
    expect(() => reduceDeficit(owing("1"), tokens("1.000001"))).toThrow(RangeError);
  });
});

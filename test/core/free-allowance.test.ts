import { describe, expect, it } from "vitest";
import type { ErrorCode } from "../../server/core/errors.js";
import {
  capAt,
  capLevelsOf,
  capsInForce,
  checkFreeCapOrThrow,
  EMPTY_FREE_MONTH,
  type FreeMonth,
  freeUsageRows,
  isSuspendedAt,
  returnFreeUnits,
  takeFreeUnits,
} from "../../server/core/free-allowance.js";
import { refusalOf } from "../fixtures/ledger-assertions.js";
import { utc } from "./builders.js";
import { aFreeCap, COMPLEX, REVIT } from "./tiered-builders.js";

describe("the free cap in force", () => {
  const first = aFreeCap(REVIT, 3, "2025-12-08");
  const raised = aFreeCap(REVIT, 5, "2026-02-01");
  const other = aFreeCap(COMPLEX, 10, "2026-01-01");
  it.each<[string, string, string, bigint]>([
    ["is 0 before any cap", REVIT, "2025-12-07", 0n],
    ["is the first cap from its start", REVIT, "2025-12-08", 3n],
    ["is the later cap once it starts", REVIT, "2026-02-01", 5n],
    ["is 0 for an API no cap names", "flow-graph-engine/processing", "2026-03-01", 0n],
    ["is per API", COMPLEX, "2026-03-01", 10n],
  ])("%s", (_why, apiCode, at, units) => {
    expect(capAt([raised, other, first], apiCode, utc(at))).toBe(units);
  });

  it("lists per API the cap in force at a time, by API code", () => {
    expect(capsInForce([raised, other, first], utc("2026-01-15"))).toEqual([first, other]);
    expect(capsInForce([raised, other, first], utc("2026-02-01"))).toEqual([raised, other]);
  });
});

describe("taking free units", () => {
  const at = utc("2026-01-10");
  it.each<[string, FreeMonth, bigint, bigint, bigint, bigint, boolean]>([
    ["gives units free under the cap", EMPTY_FREE_MONTH, 1n, 3n, 1n, 0n, false],
    ["gives free exactly up to the cap and then suspends", EMPTY_FREE_MONTH, 3n, 3n, 3n, 0n, true],
    ["splits an event crossing the cap into free and overrun", { ...EMPTY_FREE_MONTH, usedUnits: 2n }, 3n, 3n, 1n, 2n, true],
    ["with no cap in force (0), records the units as overrun and suspends", EMPTY_FREE_MONTH, 2n, 0n, 0n, 2n, true],
    ["an event of 0 units under the cap suspends nothing", EMPTY_FREE_MONTH, 0n, 3n, 0n, 0n, false],
  ])("%s", (_why, state, units, cap, free, overrun, suspended) => {
    const take = takeFreeUnits(state, units, cap, at);
    expect([take.freeUnits, take.overrunUnits, isSuspendedAt(take.state, cap, at)]).toEqual([free, overrun, suspended]);
  });

  const reached = takeFreeUnits(EMPTY_FREE_MONTH, 3n, 3n, utc("2026-01-10T12:00:00Z")).state;
  it.each<[string, FreeMonth, bigint, string, boolean]>([
    ["suspends from the moment the cap was reached", reached, 3n, "2026-01-10T12:00:00Z", true],
    ["suspends to the month's last instant", reached, 3n, "2026-01-31T23:59:59.999Z", true],
    ["does not suspend usage that occurred before the cap was reached (a late report)", reached, 3n, "2026-01-10T11:59:59.999Z", false],
    ["lifts when a higher cap takes effect", reached, 5n, "2026-01-20", false],
    ["lifts when a reversal gives units back", returnFreeUnits(reached, 1n, 0n), 3n, "2026-01-20", false],
  ])("%s", (_why, state, cap, at, suspended) => {
    expect(isSuspendedAt(state, cap, utc(at))).toBe(suspended);
  });

  it("suspends once a cap lowered below the used units is in force, from the month's latest usage on", () => {
    // 3 units used on 01-05 under a cap of 5, which is lowered to 2 from 01-10.
    const underFive = takeFreeUnits(EMPTY_FREE_MONTH, 3n, 5n, utc("2026-01-05")).state;
    expect(isSuspendedAt(underFive, 2n, utc("2026-01-10"))).toBe(true);
    // A partial unit on 01-15 under the cap of 2, then 3 units reported late for 01-08 under the cap of 5.
    const reportedLate = takeFreeUnits(takeFreeUnits(EMPTY_FREE_MONTH, 0n, 2n, utc("2026-01-15")).state, 3n, 5n, utc("2026-01-08")).state;
    expect([isSuspendedAt(reportedLate, 2n, utc("2026-01-12")), isSuspendedAt(reportedLate, 2n, utc("2026-01-15"))]).toEqual([false, true]);
  });

  it("dates the suspension at the latest usage the month has seen, whatever order the events arrived in", () => {
    const late = takeFreeUnits(EMPTY_FREE_MONTH, 2n, 3n, utc("2026-01-20")).state;
    const filled = takeFreeUnits(late, 1n, 3n, utc("2026-01-05")).state;
    expect(filled.reaches).toEqual([{ units: 3n, at: utc("2026-01-20") }]);
  });

  it("refuses to give back more units than were used", () => {
    expect(() => returnFreeUnits(reached, 4n, 0n)).toThrow(RangeError);
  });
});

describe("suspension under a cap changed mid-month", () => {
  // Revit capped at 3, raised to 10 on 01-15 and to 20 on 01-25; January's levels are 3, 10 and 20.
  const caps = [aFreeCap(REVIT, 3), aFreeCap(REVIT, 10, "2026-01-15"), aFreeCap(REVIT, 20, "2026-01-25"), aFreeCap(COMPLEX, 7, "2026-01-20")];
  const levels = capLevelsOf(caps, REVIT, "2026-01");
  const take = (state: FreeMonth, units: bigint, at: string) => takeFreeUnits(state, units, capAt(caps, REVIT, utc(at)), utc(at), levels).state;
  const suspendedAt = (state: FreeMonth, at: string) => isSuspendedAt(state, capAt(caps, REVIT, utc(at)), utc(at));

  it("lists the levels of the API's caps in force at some instant of the month, the one at its start first", () => {
    expect(levels).toEqual([3n, 10n, 20n]);
    expect(capLevelsOf(caps, REVIT, "2026-02")).toEqual([20n]);
    expect(capLevelsOf(caps, COMPLEX, "2026-01")).toEqual([0n, 7n]);
  });

  it("keeps the API suspended under the lower cap from its first reach after the raised cap is reached too", () => {
    const both = take(take(EMPTY_FREE_MONTH, 3n, "2026-01-10"), 7n, "2026-01-16");
    expect(both.reaches).toEqual([{ units: 3n, at: utc("2026-01-10") }, { units: 10n, at: utc("2026-01-16") }]);
    expect(["2026-01-09", "2026-01-12", "2026-01-15T12:00:00Z", "2026-01-16"].map((at) => suspendedAt(both, at))).toEqual([false, true, false, true]);
  });

  it("does not suspend under the raised cap before the month's usage reached its level", () => {
    const reachedLater = take(take(EMPTY_FREE_MONTH, 3n, "2026-01-05"), 7n, "2026-01-26");
    expect(["2026-01-06", "2026-01-16", "2026-01-24"].map((at) => suspendedAt(reachedLater, at))).toEqual([true, false, false]);
  });

  it("reaches a level again only by usage after a reversal gave its units back", () => {
    const givenBack = returnFreeUnits(take(EMPTY_FREE_MONTH, 3n, "2026-01-10"), 1n, 0n);
    expect(givenBack.reaches).toEqual([]);
    const again = take(givenBack, 1n, "2026-01-12");
    expect([suspendedAt(again, "2026-01-11"), suspendedAt(again, "2026-01-12")]).toEqual([false, true]);
  });
});

describe("free usage of a month", () => {
  const caps = [aFreeCap(REVIT, 3, "2025-12-08"), aFreeCap(COMPLEX, 10, "2025-12-08"), aFreeCap(REVIT, 2, "2026-01-20")];
  const used = takeFreeUnits(EMPTY_FREE_MONTH, 3n, 3n, utc("2026-01-10")).state;
  const states = new Map([[REVIT, used]]);

  it("shows each capped API, used units never above the cap, and the suspension's end", () => {
    expect(freeUsageRows("2026-01", states, caps, utc("2026-01-15"))).toEqual([
      { apiCode: REVIT, capUnits: 3n, usedUnits: 3n, overrunUnits: 0n, suspendedUntil: utc("2026-02-01") },
      { apiCode: COMPLEX, capUnits: 10n, usedUnits: 0n, overrunUnits: 0n, suspendedUntil: null },
    ]);
  });

  it("shows units given under a cap later lowered as overrun, so used stays within the cap", () => {
    const [revit] = freeUsageRows("2026-01", states, caps, utc("2026-01-25"));
    expect(revit).toEqual({ apiCode: REVIT, capUnits: 2n, usedUnits: 2n, overrunUnits: 1n, suspendedUntil: utc("2026-02-01") });
  });

  it("shows a past month with the cap of its last instant and no suspension", () => {
    const [revit] = freeUsageRows("2026-01", states, caps, utc("2026-03-01"));
    expect(revit!.suspendedUntil).toBeNull();
    expect(revit!.capUnits).toBe(2n);
  });
});

describe("publishing a free cap", () => {
  const now = utc("2026-01-10T10:00:00Z");
  it.each<[string, number, number | undefined, { unitsPerMonth: number; effectiveFrom: number }]>([
    ["from now by default", 3, undefined, { unitsPerMonth: 3, effectiveFrom: now }],
    ["in the future", 3, utc("2026-02-01"), { unitsPerMonth: 3, effectiveFrom: utc("2026-02-01") }],
    ["of 0, taking an API off the Free tier", 0, now, { unitsPerMonth: 0, effectiveFrom: now }],
  ])("accepts a cap %s", (_why, unitsPerMonth, effectiveFrom, expected) => {
    expect(checkFreeCapOrThrow({ apiCode: REVIT, unitsPerMonth, effectiveFrom, note: "test" }, now)).toEqual(expected);
  });

  it.each<[string, number, number, ErrorCode, string]>([
    ["of a negative number of units", -1, now, "BAD_USER_INPUT", "input.unitsPerMonth"],
    ["of a fractional number of units", 1.5, now, "BAD_USER_INPUT", "input.unitsPerMonth"],
    ["above a billion units", 1_000_000_001, now, "BAD_USER_INPUT", "input.unitsPerMonth"],
    ["starting in the past", 3, now - 1, "PRICE_CHANGE_IN_PAST", "input.effectiveFrom"],
  ])("refuses a cap %s", (_why, unitsPerMonth, effectiveFrom, code, field) => {
    const error = refusalOf(() => checkFreeCapOrThrow({ apiCode: REVIT, unitsPerMonth, effectiveFrom, note: "test" }, now));
    expect([error.code, error.field]).toEqual([code, field]);
  });
});

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { chargeUnits, meterSince } from "../../server/core/charged-units.js";
import { formatMicros, sumMicros } from "../../server/core/money.js";
import type { Enrollment } from "../../server/core/plan.js";
import type { TieredDecision } from "../../server/core/tiered-rating.js";
import { aPriceVersion, tokens, utc } from "./builders.js";
import { aFreeCap, type AnEvent, emptyBook, examplePrices, rateAll, REVIT, type TieredWorld } from "./tiered-builders.js";

describe("charging whole units", () => {
  it.each<[string, string, string, number, bigint, string]>([
    ["a partial unit charges nothing and is kept", "0", "600", 1200, 0n, "600"],
    ["the remainder completes a unit", "600", "600", 1200, 1n, "0"],
    ["several units at once, the rest kept", "600", "3000", 1200, 3n, "0"],
    ["exactly one unit leaves nothing", "0", "1200", 1200, 1n, "0"],
    ["a micro short of a unit stays a remainder", "0", "1199.999999", 1200, 0n, "1199.999999"],
    ["fractional quantities are exact, never rounded", "0.000001", "2.999999", 1, 3n, "0"],
    ["a zero quantity changes nothing", "5", "0", 50, 0n, "5"],
  ])("%s", (_why, remainder, quantity, unitQuantity, units, left) => {
    const result = chargeUnits(tokens(remainder), tokens(quantity), unitQuantity);
    expect([result.units, formatMicros(result.remainderMicros)]).toEqual([units, left]);
  });
});

describe("the meter period that keys a remainder", () => {
  const seconds = aPriceVersion({ apiCode: "x", meter: "SECOND", unitQuantity: 1200, effectiveFrom: "2025-12-08" });
  const cheaper = aPriceVersion({ apiCode: "x", meter: "SECOND", unitQuantity: 3600, rate: "0.5", effectiveFrom: "2026-01-01" });
  const photos = aPriceVersion({ apiCode: "x", meter: "PHOTO", unitQuantity: 50, effectiveFrom: "2026-02-01" });
  const secondsAgain = aPriceVersion({ apiCode: "x", meter: "SECOND", unitQuantity: 1200, effectiveFrom: "2026-03-01" });
  const cancelled = aPriceVersion({ apiCode: "x", meter: "JOB", effectiveFrom: "2026-01-15", cancelledAt: utc("2026-01-10") });
  const retired = aPriceVersion({ apiCode: "y", meter: "JOB", effectiveFrom: "2026-01-01", retired: true });
  const before = aPriceVersion({ apiCode: "y", meter: "JOB", effectiveFrom: "2025-12-08" });
  const after = aPriceVersion({ apiCode: "y", meter: "JOB", effectiveFrom: "2026-02-01" });
  const all = [seconds, cheaper, photos, secondsAgain, cancelled];

  it.each<[string, typeof seconds, readonly (typeof seconds)[], number]>([
    ["starts with the first version", seconds, all, seconds.effectiveFrom],
    ["carries on through a rate or unit change with the same meter", cheaper, all, seconds.effectiveFrom],
    ["starts afresh when another meter takes effect", photos, all, photos.effectiveFrom],
    ["starts afresh when the old meter comes back", secondsAgain, all, secondsAgain.effectiveFrom],
    ["starts afresh after a retirement", after, [before, retired, after], after.effectiveFrom],
  ])("%s", (_why, price, versions, expected) => {
    expect(meterSince(versions, price)).toBe(expected);
  });

  it("drops the remainder when a version with another meter takes effect, and keeps it for late events of the old meter", () => {
    const world: TieredWorld = {
      prices: [seconds, photos].map((price) => ({ ...price, apiCode: REVIT })),
      caps: [],
      enrollments: [{ tier: "PAID", payg: true, effectiveFrom: utc("2025-12-08") }],
      now: utc("2026-02-10"),
    };
    const { decisions } = rateAll(world, emptyBook(), [
      { apiCode: REVIT, quantity: "1000", occurredAt: "2026-01-20" },
      { apiCode: REVIT, quantity: "40", occurredAt: "2026-02-02" },
      { apiCode: REVIT, quantity: "200", occurredAt: "2026-01-25" },
    ]);
    expect((decisions as TieredDecision[]).map((decision) => [decision.units, formatMicros(decision.remainder.quantityMicros)])).toEqual([
      [0n, "1000"],
      [0n, "40"], // 40 photos: the 1000 seconds are not carried into the photo meter
      [1n, "0"], // a late event of the seconds period still completes its unit
    ]);
  });
});

describe("rollover across months and plans", () => {
  const paygFrom2025: Enrollment = { tier: "PAID", payg: true, effectiveFrom: utc("2025-12-08") };
  const world = (enrollments: Enrollment[]): TieredWorld => ({ prices: examplePrices(), caps: [aFreeCap(REVIT, 100)], enrollments, now: utc("2026-03-01") });
  const units = (events: AnEvent[], enrollments: Enrollment[]) =>
    rateAll(world(enrollments), emptyBook(), events).decisions.map((decision) => (decision as TieredDecision).units);

  it("carries a paid remainder across months (APS rollover)", () => {
    const events = [
      { apiCode: REVIT, quantity: "600", occurredAt: "2026-01-31T23:00:00Z" },
      { apiCode: REVIT, quantity: "600", occurredAt: "2026-02-01T01:00:00Z" },
    ];
    expect(units(events, [paygFrom2025])).toEqual([0n, 1n]);
  });

  it("starts each free month at a remainder of 0 (nothing carries)", () => {
    const events = [
      { apiCode: REVIT, quantity: "600", occurredAt: "2026-01-31T23:00:00Z" },
      { apiCode: REVIT, quantity: "600", occurredAt: "2026-02-01T01:00:00Z" },
      { apiCode: REVIT, quantity: "600", occurredAt: "2026-01-31T23:30:00Z" },
    ];
    expect(units(events, [{ tier: "FREE", payg: false, effectiveFrom: utc("2025-12-08") }])).toEqual([0n, 0n, 1n]);
  });

  it("keeps FREE and PAID remainders apart: a paid remainder waits through a FREE spell", () => {
    const spells: Enrollment[] = [
      paygFrom2025,
      { tier: "FREE", payg: false, effectiveFrom: utc("2026-01-10") },
      { tier: "PAID", payg: true, effectiveFrom: utc("2026-01-20") },
    ];
    const events = [
      { apiCode: REVIT, quantity: "600", occurredAt: "2026-01-05" },
      { apiCode: REVIT, quantity: "900", occurredAt: "2026-01-12" },
      { apiCode: REVIT, quantity: "600", occurredAt: "2026-01-25" },
    ];
    expect(units(events, spells)).toEqual([0n, 0n, 1n]);
  });

  it("adds nothing for an outcome the version does not bill", () => {
    const { book, decisions } = rateAll(world([paygFrom2025]), emptyBook(), [
      { apiCode: REVIT, quantity: "600", occurredAt: "2026-01-10" },
      { apiCode: REVIT, quantity: "6000", occurredAt: "2026-01-11", outcome: "FAILED" },
    ]);
    const failed = decisions[1] as TieredDecision;
    expect([failed.units, failed.tokensMicros, formatMicros(failed.remainder.quantityMicros), failed.allocations]).toEqual([0n, 0n, "600", []]);
    expect([...book.remainders.values()].map(formatMicros)).toEqual(["600"]);
  });

  it("charges a paid account floor(Σq ÷ U) units for an API, whatever order the events arrive in", () => {
    const event = fc.record({
      seconds: fc.integer({ min: 0, max: 5_000_000_000 }).map((micros) => formatMicros(BigInt(micros))),
      day: fc.integer({ min: 0, max: 89 }),
    });
    // The events in one order, and the same events in an arrival order fast-check shuffles.
    const arrivals = fc
      .array(event, { minLength: 1, maxLength: 40 })
      .chain((events) => fc.tuple(fc.constant(events), fc.shuffledSubarray(events, { minLength: events.length })));
    fc.assert(
      fc.property(arrivals, ([drawn, shuffled]) => {
        const asEvent = (e: (typeof drawn)[number]) => ({ apiCode: REVIT, quantity: e.seconds, occurredAt: new Date(utc("2026-01-01") + e.day * 86_400_000).toISOString() });
        const expected = sumMicros(drawn.map((e) => tokens(e.seconds))) / (1200n * 1_000_000n);
        for (const order of [drawn, shuffled]) {
          const { decisions } = rateAll(world([paygFrom2025]), emptyBook(), order.map(asEvent));
          expect(sumMicros((decisions as TieredDecision[]).map((decision) => decision.units))).toBe(expected);
        }
      }),
      { numRuns: 200 },
    );
  });
});

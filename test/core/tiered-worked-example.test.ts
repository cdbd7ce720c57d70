/**
 * The worked example at the end of domain §8, figure for figure, through the pure core as a
 * service will drive it. Test values chosen by an operator, not APS's: revit at 1 token per
 * 1200 s capped at 3 units a month; a complex job at 0.5 tokens; a pool of 20, a pack of 100.
 */
import { describe, expect, it } from "vitest";
import type { Allocation } from "../../server/core/drain.js";
import { formatMicros } from "../../server/core/money.js";
import { paygStatement, type PaygPart } from "../../server/core/payg.js";
import { decideEnrollmentOrThrow, DEFAULT_PAYG_COUNTRIES, type Enrollment } from "../../server/core/plan.js";
import { applyTieredDecision, type TieredBook, type TieredDecision } from "../../server/core/tiered-rating.js";
import { freeMonthKey, freeUsageRows } from "../../server/core/free-allowance.js";
import { poolAsSource } from "../../server/core/token-flex.js";
import { refusalOf } from "../fixtures/ledger-assertions.js";
import { aPack, tokens, utc } from "./builders.js";
import { aFreeCap, COMPLEX, decide, emptyBook, examplePrices, REVIT, type AnEvent, type TieredWorld } from "./tiered-builders.js";

const parts = (allocations: readonly Allocation[]) =>
  allocations.map((part) => (part.units !== undefined && part.amountMicros === 0n ? `${part.source} ${part.units}u` : `${part.source} ${formatMicros(part.amountMicros)}`));

const prices = examplePrices();
const caps = [aFreeCap(REVIT, 3)];
const free: Enrollment = decideEnrollmentOrThrow(
  { tier: "FREE", effectiveFrom: utc("2026-01-01") },
  { country: "JP", enrollments: [], latestChargeOccurredAt: null, paygCountries: DEFAULT_PAYG_COUNTRIES, now: utc("2026-01-01T09:00:00Z") },
);

describe("the worked example of domain §8", () => {
  let book: TieredBook = emptyBook();
  const freeWorld: TieredWorld = { prices, caps, enrollments: [free], now: utc("2026-01-09") };
  const rate = (world: TieredWorld, event: AnEvent): TieredDecision => {
    const decision = decide(world, book, event);
    book = applyTieredDecision(book, decision);
    return decision;
  };
  const remainderOf = (decision: TieredDecision) => formatMicros(decision.remainder.quantityMicros);

  it("FREE: 1500 s is 1 unit free, 300 s left over", () => {
    const decision = rate(freeWorld, { apiCode: REVIT, quantity: "1500", occurredAt: "2026-01-05T10:00:00Z" });
    expect([decision.units, remainderOf(decision), parts(decision.allocations)]).toEqual([1n, "300", ["FREE_ALLOWANCE 1u"]]);
  });

  it("FREE: another 1500 s is 1 unit, 600 s left over", () => {
    const decision = rate(freeWorld, { apiCode: REVIT, quantity: "1500", occurredAt: "2026-01-06T10:00:00Z" });
    expect([decision.units, remainderOf(decision), parts(decision.allocations)]).toEqual([1n, "600", ["FREE_ALLOWANCE 1u"]]);
  });

  it("FREE: 3000 s is 3 units, 1 free and 2 overrun, and suspends revit until the 1st", () => {
    const decision = rate(freeWorld, { apiCode: REVIT, quantity: "3000", occurredAt: "2026-01-07T10:00:00Z" });
    expect([decision.units, remainderOf(decision), parts(decision.allocations), decision.tokensMicros]).toEqual([3n, "0", ["FREE_ALLOWANCE 1u", "OVERRUN 2u"], 0n]);
    const [row] = freeUsageRows("2026-01", new Map([[REVIT, book.freeMonths.get(freeMonthKey(REVIT, "2026-01"))!]]), caps, utc("2026-01-08"));
    expect(row).toEqual({ apiCode: REVIT, capUnits: 3n, usedUnits: 3n, overrunUnits: 2n, suspendedUntil: utc("2026-02-01") });
  });

  it("FREE: 100 s of revit is refused API_SUSPENDED and changes nothing", () => {
    const before = book;
    const error = refusalOf(() => decide(freeWorld, book, { apiCode: REVIT, quantity: "100", occurredAt: "2026-01-08T10:00:00Z" }));
    expect([error.code, error.field]).toEqual(["API_SUSPENDED", undefined]);
    expect(book).toBe(before);
  });

  it("FREE: a complex job still rates", () => {
    const decision = rate(freeWorld, { apiCode: COMPLEX, quantity: "1", occurredAt: "2026-01-08T11:00:00Z" });
    expect([decision.units, decision.tokensMicros]).toEqual([1n, 0n]);
  });

  const paid = decideEnrollmentOrThrow(
    { tier: "PAID", payg: true, effectiveFrom: utc("2026-01-15") },
    { country: "JP", enrollments: [free], latestChargeOccurredAt: utc("2026-01-08T11:00:00Z"), paygCountries: DEFAULT_PAYG_COUNTRIES, now: utc("2026-01-15T09:00:00Z") },
  );
  const paidWorld: TieredWorld = { prices, caps, enrollments: [free, paid], now: utc("2026-01-20") };

  it("PAID with PAYG, pool 20 and pack 100: 36000 s is 30 tokens, pool 20 then pack 10 (revit no longer suspended)", () => {
    const pool = poolAsSource({ id: 1, tokensMicros: tokens("20"), remainingMicros: tokens("20"), startsAt: utc("2026-01-01"), endsAt: utc("2027-01-01"), externalRef: "EBA-1" });
    book = { ...book, sources: [aPack({ id: 2, tokens: "100", purchasedAt: "2026-01-15" }), pool] };
    const decision = rate(paidWorld, { apiCode: REVIT, quantity: "36000", occurredAt: "2026-01-16T10:00:00Z" });
    expect([decision.units, formatMicros(decision.tokensMicros), parts(decision.allocations)]).toEqual([30n, "30", ["TOKEN_FLEX 20", "FLEX_PACK 10"]]);
  });

  const payg: PaygPart[] = [];

  it("PAID: 200 complex jobs at 0.5 are 100 tokens, pack 90 then PAYG 10", () => {
    const decision = rate(paidWorld, { apiCode: COMPLEX, quantity: "200", occurredAt: "2026-01-17T10:00:00Z" });
    expect([decision.units, formatMicros(decision.tokensMicros), parts(decision.allocations)]).toEqual([200n, "100", ["FLEX_PACK 90", "PAYG 10"]]);
    expect(decision.payg).toEqual({ statementMonth: "2026-01", part: { apiCode: COMPLEX, units: 20n, tokensMicros: tokens("10") } });
    payg.push(decision.payg!.part);
  });

  it("PAID: 600 s charges nothing and leaves 600 s", () => {
    const decision = rate(paidWorld, { apiCode: REVIT, quantity: "600", occurredAt: "2026-01-18T10:00:00Z" });
    expect([decision.units, decision.tokensMicros, remainderOf(decision), decision.allocations]).toEqual([0n, 0n, "600", []]);
  });

  it("PAID: another 600 s completes 1 unit, paid by PAYG: the month's statement reads 11 tokens", () => {
    const decision = rate(paidWorld, { apiCode: REVIT, quantity: "600", occurredAt: "2026-01-19T10:00:00Z" });
    expect([decision.units, remainderOf(decision), parts(decision.allocations)]).toEqual([1n, "0", ["PAYG 1"]]);
    payg.push(decision.payg!.part);
    const statement = paygStatement("2026-01", payg, utc("2026-01-20"));
    expect(formatMicros(statement.tokensMicros)).toBe("11");
    expect(statement.status).toBe("OPEN");
    expect(statement.lines.map((line) => [line.apiCode, line.units, formatMicros(line.tokensMicros)])).toEqual([
      [REVIT, 1n, "1"],
      [COMPLEX, 20n, "10"],
    ]);
  });
});

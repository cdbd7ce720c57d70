import { describe, expect, it } from "vitest";
import { type Allocation, type AllocationSource, availableAt, compareDrainOrder, DRAIN_RANK, drain, type FundingSource, paysUsageAt } from "../../server/core/drain.js";
import { formatMicros } from "../../server/core/money.js";
import { decideChargeOrThrow } from "../../server/core/rating.js";
import { poolAsSource } from "../../server/core/token-flex.js";
import { aLot, aPack, tokens, utc } from "./builders.js";

const receipt = (allocations: readonly Allocation[]) => allocations.map((part) => `${part.source}#${part.sourceId ?? "-"}:${formatMicros(part.amountMicros)}`);
const aPool = (id: number, amount: string, startsAt: string, endsAt: string): FundingSource =>
  poolAsSource({ id, tokensMicros: tokens(amount), remainingMicros: tokens(amount), startsAt: utc(startsAt), endsAt: utc(endsAt), externalRef: `EBA-${id}` });
// Lots cannot be bought after 2022-11-07 by default; an operator who moved that date can hold
// one valid across 2026-01-01, which is what these cases need.
const lateLot = aLot({ id: 1, tokens: "10", purchasedAt: "2025-06-01" });

describe("the one drain order, with Token Flex pools", () => {
  it.each<[string, FundingSource, FundingSource]>([
    ["a cloud-credit lot before a pool ending sooner", lateLot, aPool(9, "5", "2025-01-01", "2025-12-31")],
    ["a pool before a Flex pack expiring sooner and smaller", aPool(9, "500", "2025-06-01", "2027-01-01"), aPack({ id: 1, tokens: "100", purchasedAt: "2025-01-01" })],
    ["the pool ending sooner first", aPool(2, "5", "2025-06-01", "2026-06-01"), aPool(1, "5", "2025-01-01", "2026-07-01")],
    ["among pools ending together, the oldest start", aPool(2, "5", "2025-01-01", "2026-06-01"), aPool(1, "5", "2025-02-01", "2026-06-01")],
    ["among pools, size does not count: the lower id, even when larger", aPool(1, "500", "2025-01-01", "2026-06-01"), aPool(2, "5", "2025-01-01", "2026-06-01")],
  ])("drains %s", (_why, first, second) => {
    expect(compareDrainOrder(first, second)).toBeLessThan(0);
    expect(compareDrainOrder(second, first)).toBeGreaterThan(0);
  });

  it("ranks the whole chain once: free allowance, overrun, lots, Token Flex, Flex, PAYG, deficit", () => {
    const chain = (Object.keys(DRAIN_RANK) as AllocationSource[]).sort((a, b) => DRAIN_RANK[a] - DRAIN_RANK[b]);
    expect(chain).toEqual(["FREE_ALLOWANCE", "OVERRUN", "CREDIT_LOT", "TOKEN_FLEX", "FLEX_PACK", "PAYG", "DEFICIT"]);
  });
});

describe("the credit acceptance end", () => {
  const pack = aPack({ id: 2, tokens: "100", purchasedAt: "2025-06-01" });
  it.each<[string, string, number | undefined, string[]]>([
    ["lets a lot pay usage before 2026-01-01, unchanged", "2025-12-31T23:59:59.999Z", undefined, ["CREDIT_LOT#1:10", "FLEX_PACK#2:2"]],
    ["lets no lot pay usage at 2026-01-01 or after", "2026-01-01T00:00:00Z", undefined, ["FLEX_PACK#2:12"]],
    ["follows an end an operator configured", "2026-01-01T00:00:00Z", utc("2026-03-01"), ["CREDIT_LOT#1:10", "FLEX_PACK#2:2"]],
  ])("%s", (_why, at, end, expected) => {
    expect(receipt(drain([pack, lateLot], tokens("12"), utc(at), end).allocations)).toEqual(expected);
    expect(paysUsageAt(lateLot, utc(at), end)).toBe(expected.length === 2);
  });

  it("leaves the lot out of what is available for usage from then on", () => {
    expect(formatMicros(availableAt([pack, lateLot], utc("2025-12-31")))).toBe("110");
    expect(formatMicros(availableAt([pack, lateLot], utc("2026-01-01")))).toBe("100");
  });

  it("applies to LEGACY rating too: the lot's share goes to the deficit", () => {
    const decide = (occurredAt: string, creditAcceptanceEndAt?: number) =>
      receipt(
        decideChargeOrThrow({
          costMicros: tokens("3"),
          occurredAt: utc(occurredAt),
          policy: "NEGATIVE_WITH_GRACE",
          deficit: { deficitMicros: 0n, graceStartedAt: null },
          sources: [lateLot],
          now: utc("2026-02-01"),
          ...(creditAcceptanceEndAt === undefined ? {} : { creditAcceptanceEndAt }),
        }).allocations,
      );
    expect(decide("2025-12-31")).toEqual(["CREDIT_LOT#1:3"]);
    expect(decide("2026-01-15")).toEqual(["DEFICIT#-:3"]);
    expect(decide("2026-01-15", utc("2026-02-01"))).toEqual(["CREDIT_LOT#1:3"]);
  });
});

import { describe, expect, it } from "vitest";
import { type Allocation, availableAt, compareDrainOrder, drain, type FundingSource } from "../../server/core/drain.js";
import { formatMicros } from "../../server/core/money.js";
import { aLot, aPack, tokens, utc } from "./builders.js";

/** Allocations as "KIND#id:amount" strings, so expectations read like a receipt. */
const receipt = (allocations: readonly Allocation[]) =>
  allocations.map((allocation) => `${allocation.source}#${allocation.sourceId ?? "-"}:${formatMicros(allocation.amountMicros)}`);

describe("the drain order (credit-first)", () => {
  it.each<[string, FundingSource, FundingSource]>([
    [
      "a credit lot before a Flex pack that expires sooner",
      aLot({ id: 9, purchasedAt: "2022-11-01" }),
      aPack({ id: 1, purchasedAt: "2022-06-01" }),
    ],
    [
      "the lot that expires sooner first",
      aLot({ id: 2, purchasedAt: "2022-03-01" }),
      aLot({ id: 1, purchasedAt: "2022-04-01" }),
    ],
    [
      "among lots expiring together, the older purchase (28 and 29 February both expire on 28 February)",
      aLot({ id: 2, purchasedAt: "2020-02-28" }),
      aLot({ id: 1, purchasedAt: "2020-02-29" }),
    ],
    [
      "among lots, size does not count: the lower id among equals, even when larger",
      aLot({ id: 1, tokens: "500", purchasedAt: "2022-03-01" }),
      aLot({ id: 2, tokens: "100", purchasedAt: "2022-03-01" }),
    ],
    [
      "the pack that expires sooner before a smaller pack that expires later",
      aPack({ id: 2, tokens: "1000", purchasedAt: "2023-01-01" }),
      aPack({ id: 1, tokens: "100", purchasedAt: "2023-01-02" }),
    ],
    [
      "among packs expiring together, the smallest pack first",
      aPack({ id: 2, tokens: "100", purchasedAt: "2023-01-01" }),
      aPack({ id: 1, tokens: "500", purchasedAt: "2023-01-01" }),
    ],
    [
      "pack size means the size bought, not what is left",
      aPack({ id: 2, tokens: "100", remaining: "90", purchasedAt: "2023-01-01" }),
      aPack({ id: 1, tokens: "500", remaining: "10", purchasedAt: "2023-01-01" }),
    ],
    [
      "among packs of one size expiring together, the older purchase",
      aPack({ id: 2, purchasedAt: "2024-02-28" }),
      aPack({ id: 1, purchasedAt: "2024-02-29" }),
    ],
    [
      "among otherwise equal packs, the lower id",
      aPack({ id: 1, purchasedAt: "2023-01-01" }),
      aPack({ id: 2, purchasedAt: "2023-01-01" }),
    ],
  ])("drains %s", (_why, first, second) => {
    expect(compareDrainOrder(first, second)).toBeLessThan(0);
    expect(compareDrainOrder(second, first)).toBeGreaterThan(0);
    const at = Math.max(first.purchasedAt, second.purchasedAt);
    const result = drain([second, first], tokens("1"), at);
    expect(result).toEqual({ kind: "covered", allocations: [{ source: first.kind, sourceId: first.id, amountMicros: tokens("1") }] });
  });

  it("drains several lots and packs in one order: lots by expiry, then packs by expiry and size", () => {
    const sources = [
      aPack({ id: 1, tokens: "100", purchasedAt: "2023-01-10" }),
      aPack({ id: 2, tokens: "500", purchasedAt: "2022-12-01" }),
      aPack({ id: 3, tokens: "100", remaining: "40", purchasedAt: "2022-12-01" }),
      aLot({ id: 4, remaining: "10", purchasedAt: "2022-10-01" }),
      aLot({ id: 5, remaining: "20", purchasedAt: "2022-04-01" }),
    ];
    const result = drain(sources, tokens("600"), utc("2023-03-01"));
    expect(result.kind).toBe("covered");
    expect(receipt(result.allocations)).toEqual([
      "CREDIT_LOT#5:20",
      "CREDIT_LOT#4:10",
      "FLEX_PACK#3:40",
      "FLEX_PACK#2:500",
      "FLEX_PACK#1:30",
    ]);
  });

  it("splits one event across sources down to the micro-token", () => {
    const sources = [aLot({ id: 1, remaining: "0.000001" }), aPack({ id: 2, remaining: "0.120555" })];
    const result = drain(sources, tokens("0.120556"), utc("2023-06-01"));
    expect(receipt(result.allocations)).toEqual(["CREDIT_LOT#1:0.000001", "FLEX_PACK#2:0.120555"]);
    expect(result.kind).toBe("covered");
  });
});

describe("which sources count at the usage time", () => {
  const lot = aLot({ id: 1, purchasedAt: "2023-01-01T00:00:00Z" });
  const pack = aPack({ id: 2, purchasedAt: "2022-06-01T00:00:00Z", tokens: "1000" });
  it.each([
    ["a lot bought after the usage is not used", "2022-12-31T23:59:59.999Z", ["FLEX_PACK#2:1"]],
    ["a lot bought at the very instant of the usage is used", "2023-01-01T00:00:00.000Z", ["CREDIT_LOT#1:1"]],
    ["a lot in its last millisecond is used", "2023-12-31T23:59:59.999Z", ["CREDIT_LOT#1:1"]],
    ["a lot expired at the usage time is not used (and neither is the expired pack)", "2024-01-01T00:00:00.000Z", []],
    ["a pack expired before the usage is not used", "2023-06-01T00:00:00.000Z", ["CREDIT_LOT#1:1"]],
  ])("%s", (_why, occurredAt, expected) => {
    const result = drain([lot, pack], tokens("1"), utc(occurredAt));
    expect(receipt(result.allocations)).toEqual(expected);
  });

  it("treats tokens left in an expired lot as lost: they never drain again", () => {
    const expired = aLot({ id: 1, purchasedAt: "2021-01-01", remaining: "100" });
    const result = drain([expired], tokens("5"), utc("2023-01-01"));
    expect(result).toEqual({ kind: "shortfall", allocations: [], shortfallMicros: tokens("5") });
  });

  it("counts only the sources valid at the time as available", () => {
    const sources = [
      aLot({ id: 1, purchasedAt: "2022-06-01", remaining: "7" }),
      aPack({ id: 2, purchasedAt: "2023-01-01", remaining: "30" }),
      aPack({ id: 3, purchasedAt: "2021-01-01", remaining: "1000" }),
    ];
    expect(availableAt(sources, utc("2023-02-01"))).toBe(tokens("37"));
    expect(availableAt(sources, utc("2022-07-01"))).toBe(tokens("7"));
    expect(availableAt(sources, utc("2024-06-01"))).toBe(0n);
  });
});

describe("what the drain returns", () => {
  const sources = [aLot({ id: 1, remaining: "3" }), aPack({ id: 2, remaining: "0" }), aPack({ id: 3, remaining: "4" })];
  const at = utc("2023-06-01");

  it.each([
    ["nothing for a zero amount", "0", { kind: "covered", allocations: [] as string[] }],
    ["what it took when the sources cover the amount", "5", { kind: "covered", allocations: ["CREDIT_LOT#1:3", "FLEX_PACK#3:2"] }],
    ["exactly everything when the amount equals the funds", "7", { kind: "covered", allocations: ["CREDIT_LOT#1:3", "FLEX_PACK#3:4"] }],
    ["a typed shortfall when the funds fall short", "10", { kind: "shortfall", allocations: ["CREDIT_LOT#1:3", "FLEX_PACK#3:4"], shortfall: "3" }],
  ])("returns %s", (_why, amount, expected) => {
    const result = drain(sources, tokens(amount), at);
    expect({
      kind: result.kind,
      allocations: receipt(result.allocations),
      ...(result.kind === "shortfall" ? { shortfall: formatMicros(result.shortfallMicros) } : {}),
    }).toEqual(expected);
  });

  it("never allocates from an empty source", () => {
    const result = drain(sources, tokens("5"), at);
    expect(result.allocations.every((allocation) => allocation.amountMicros > 0n)).toBe(true);
  });

  it("leaves its input untouched (the caller applies the allocations)", () => {
    const before = structuredClone(sources);
    drain(sources, tokens("5"), at);
    expect(sources).toEqual(before);
  });

  it("refuses a negative amount", () => {
    expect(() => drain(sources, -1n, at)).toThrow(RangeError);
  });
});

import { describe, expect, it } from "vitest";
import { applyAllocations, balanceAt } from "../../server/core/balance.js";
import { DEFICIT_PAGE, type DeficitPart, decideReversal, type LedgerAllocation, type LedgerSettlement, type OutstandingDeficit, outstandingFromNewest, settleDeficit } from "../../server/core/ledger.js";
import { formatMicros } from "../../server/core/money.js";
import { aLot, aPack, tokens, utc } from "./builders.js";

const debt = (allocationId: number, amount: string): OutstandingDeficit => ({ allocationId, outstandingMicros: tokens(amount) });

describe("reading the outstanding deficit parts newest first", () => {
  /** Parts by id, oldest first: what each owed and what has been settled of it. */
  const ledgerOf = (parts: [owed: string, settled: string][]): DeficitPart[] =>
    parts.map(([owed, settled], index) => ({ allocationId: index + 1, amountMicros: tokens(owed), settledMicros: tokens(settled), occurredAt: index }));
  /** The store's page read over `parts`, counting the pages asked for. */
  const pagesOf = (parts: DeficitPart[]) => {
    const asked: number[] = [];
    const page = (before: number) => {
      asked.push(before);
      return parts.filter((part) => part.allocationId < before).reverse().slice(0, DEFICIT_PAGE);
    };
    return { asked, page };
  };

  it("stops at the first page when the parts still owed are on it, however many were paid off before", async () => {
    const parts = ledgerOf([...Array.from({ length: 1_000 }, (): [string, string] => ["1", "1"]), ["2", "0.5"], ["3", "0"]]);
    const { asked, page } = pagesOf(parts);
    expect(await outstandingFromNewest(tokens("4.5"), page)).toEqual([
      { allocationId: 1_001, outstandingMicros: tokens("1.5"), occurredAt: 1_000 },
      { allocationId: 1_002, outstandingMicros: tokens("3"), occurredAt: 1_001 },
    ]);
    expect(asked).toHaveLength(1);
  });

  it("pages back until what the parts still owe adds up to the debt, and gives them oldest first", async () => {
    // A part owed behind parts paid in full (a lot settles no usage from the credit acceptance end on).
    const parts = ledgerOf([["5", "0"], ...Array.from({ length: 200 }, (): [string, string] => ["1", "1"]), ["1", "0"]]);
    const { asked, page } = pagesOf(parts);
    expect((await outstandingFromNewest(tokens("6"), page)).map((debt) => debt.allocationId)).toEqual([1, 202]);
    expect(asked).toHaveLength(Math.ceil(202 / DEFICIT_PAGE));
  });

  it("reads nothing for an account that owes nothing, and stops at the oldest part when the debt is not found", async () => {
    const { asked, page } = pagesOf(ledgerOf([["1", "0"]]));
    expect(await outstandingFromNewest(0n, page)).toEqual([]);
    expect(asked).toEqual([]);
    expect((await outstandingFromNewest(tokens("2"), page)).map((debt) => debt.allocationId)).toEqual([1]);
  });
});

describe("settling a deficit from new funds", () => {
  it.each<[string, OutstandingDeficit[], string, [number, string][]]>([
    ["pays a single debt in full and keeps the rest", [debt(7, "5")], "100", [[7, "5"]]],
    ["pays part of a debt larger than the funds", [debt(7, "101")], "100", [[7, "100"]]],
    ["pays the oldest debt first, then the next", [debt(3, "2"), debt(8, "4")], "5", [[3, "2"], [8, "3"]]],
    ["pays every debt when the funds suffice", [debt(3, "2"), debt(8, "4")], "100", [[3, "2"], [8, "4"]]],
    ["pays nothing when nothing is owed", [], "100", []],
    ["pays nothing from zero funds", [debt(3, "2")], "0", []],
    ["skips a debt already paid", [debt(3, "0"), debt(4, "1")], "100", [[4, "1"]]],
  ])("%s", (_why, outstanding, funds, expected) => {
    const settlements = settleDeficit(outstanding, tokens(funds));
    expect(settlements.map((settlement) => [settlement.allocationId, formatMicros(settlement.amountMicros)])).toEqual(expected);
  });
});

const allocation = (id: number, source: LedgerAllocation["source"], sourceId: number | null, amount: string): LedgerAllocation => ({
  id,
  source,
  sourceId,
  amountMicros: tokens(amount),
});
const settlement = (allocationId: number, source: LedgerSettlement["source"], sourceId: number, amount: string): LedgerSettlement => ({
  allocationId,
  source,
  sourceId,
  amountMicros: tokens(amount),
});

describe("deciding a reversal", () => {
  it.each<[string, LedgerAllocation[], LedgerSettlement[], string[], string]>([
    ["returns each part to the lot or pack it came from", [allocation(1, "CREDIT_LOT", 4, "3"), allocation(2, "FLEX_PACK", 9, "2")], [], ["CREDIT_LOT#4:3", "FLEX_PACK#9:2"], "0"],
    ["simply cancels an unpaid deficit", [allocation(1, "DEFICIT", null, "5")], [], [], "5"],
    ["returns a settled deficit to the pack that paid it", [allocation(1, "DEFICIT", null, "5")], [settlement(1, "FLEX_PACK", 12, "5")], ["FLEX_PACK#12:5"], "0"],
    [
      "returns the settled part to its payer and cancels the unpaid rest",
      [allocation(1, "DEFICIT", null, "101")],
      [settlement(1, "FLEX_PACK", 12, "100")],
      ["FLEX_PACK#12:100"],
      "1",
    ],
    [
      "follows a deficit settled by several lots and packs",
      [allocation(1, "FLEX_PACK", 9, "3"), allocation(2, "DEFICIT", null, "10")],
      [settlement(2, "CREDIT_LOT", 5, "4"), settlement(2, "FLEX_PACK", 12, "6")],
      ["FLEX_PACK#9:3", "CREDIT_LOT#5:4", "FLEX_PACK#12:6"],
      "0",
    ],
    ["ignores settlements of other charges", [allocation(1, "DEFICIT", null, "5")], [settlement(99, "FLEX_PACK", 12, "5")], [], "5"],
    ["does nothing for a free charge", [], [], [], "0"],
  ])("%s", (_why, allocations, settlements, refunds, deficitReduction) => {
    const decision = decideReversal(allocations, settlements);
    expect(decision.refunds.map((refund) => `${refund.source}#${refund.sourceId}:${formatMicros(refund.amountMicros)}`)).toEqual(refunds);
    expect(formatMicros(decision.deficitReductionMicros)).toBe(deficitReduction);
  });
});

describe("balances made of lots, packs and the deficit", () => {
  const sources = [
    aLot({ id: 1, tokens: "10", remaining: "4", purchasedAt: "2022-10-01" }),
    aPack({ id: 2, tokens: "100", remaining: "60", purchasedAt: "2023-08-01" }),
    aPack({ id: 3, tokens: "200", remaining: "200", purchasedAt: "2022-01-01" }),
  ];

  it.each([
    ["counts only the lots and packs valid at the time", "2023-09-01", { cloudCredits: "4", flexTokens: "60", deficit: "0", available: "64" }],
    ["drops the expired lot", "2023-10-01", { cloudCredits: "0", flexTokens: "60", deficit: "0", available: "60" }],
    ["counts nothing once everything expired", "2025-01-01", { cloudCredits: "0", flexTokens: "0", deficit: "0", available: "0" }],
  ])("%s", (_why, at, expected) => {
    const balance = balanceAt(sources, { deficitMicros: 0n, graceStartedAt: null }, utc(at));
    expect({
      cloudCredits: formatMicros(balance.cloudCreditsMicros),
      flexTokens: formatMicros(balance.flexTokensMicros),
      deficit: formatMicros(balance.deficitMicros),
      available: formatMicros(balance.availableMicros),
    }).toEqual(expected);
  });

  it("counts no cloud credits from the credit acceptance end on: available is what usage then can draw", () => {
    const end = utc("2023-09-01");
    const shown = (at: number) => formatMicros(balanceAt(sources, { deficitMicros: 0n, graceStartedAt: null }, at, end).availableMicros);
    expect([shown(end - 1), shown(end)]).toEqual(["64", "60"]);
  });

  it("subtracts the deficit and reports when grace ends", () => {
    const started = utc("2023-09-01");
    const balance = balanceAt(sources, { deficitMicros: tokens("70"), graceStartedAt: started }, utc("2023-09-02"));
    expect(formatMicros(balance.availableMicros)).toBe("-6");
    expect(balance.graceEndsAt).toBe(started + 14 * 86_400_000);
  });

  it("applies a charge's allocations to the sources it names and no others", () => {
    const after = applyAllocations(sources, [
      { source: "CREDIT_LOT", sourceId: 1, amountMicros: tokens("4") },
      { source: "FLEX_PACK", sourceId: 2, amountMicros: tokens("0.5") },
      { source: "DEFICIT", sourceId: null, amountMicros: tokens("9") },
    ]);
    expect(after.map((source) => formatMicros(source.remainingMicros))).toEqual(["0", "59.5", "200"]);
  });
});

import { describe, expect, it } from "vitest";
import { type BalancePolicy, type DeficitState, GRACE_PERIOD_MS, MAX_DEFICIT_MICROS, accountStatus, reduceDeficit } from "../../server/core/account.js";
import { applyAllocations, balanceAt } from "../../server/core/balance.js";
import type { Allocation, FundingSource } from "../../server/core/drain.js";
import { settleDeficit } from "../../server/core/ledger.js";
import { formatMicros, sumMicros } from "../../server/core/money.js";
import { type ChargeContext, decideChargeOrThrow } from "../../server/core/rating.js";
import { refusalOf } from "../fixtures/ledger-assertions.js";
import { aLot, aPack, tokens, utc } from "./builders.js";

const now = utc("2024-06-01T10:00:00Z");
const occurredAt = utc("2024-05-31T12:00:00Z");
const clear: DeficitState = { deficitMicros: 0n, graceStartedAt: null };

function context(overrides: Partial<ChargeContext> & { cost?: string } = {}): ChargeContext {
  const { cost = "1", ...rest } = overrides;
  return {
    costMicros: tokens(cost),
    occurredAt,
    policy: "NEGATIVE_WITH_GRACE",
    deficit: clear,
    sources: [],
    now,
    ...rest,
  };
}

const receipt = (allocations: readonly Allocation[]) =>
  allocations.map((allocation) => `${allocation.source}#${allocation.sourceId ?? "-"}:${formatMicros(allocation.amountMicros)}`);

const lot = aLot({ id: 1, tokens: "3", purchasedAt: "2024-01-01" });
const pack = aPack({ id: 2, tokens: "100", remaining: "4", purchasedAt: "2024-01-01" });

describe("deciding how a charge is paid", () => {
  it.each<[string, BalancePolicy, string, FundingSource[], string[]]>([
    ["covers the cost from a lot, then a pack", "NEGATIVE_WITH_GRACE", "5", [pack, lot], ["CREDIT_LOT#1:3", "FLEX_PACK#2:2"]],
    ["books what the lots and packs cannot pay as a deficit", "NEGATIVE_WITH_GRACE", "10", [pack, lot], ["CREDIT_LOT#1:3", "FLEX_PACK#2:4", "DEFICIT#-:3"]],
    ["books the whole cost as a deficit when nothing is held", "NEGATIVE_WITH_GRACE", "0.120556", [], ["DEFICIT#-:0.120556"]],
    ["lets a HARD_STOP account spend its balance to the last micro-token", "HARD_STOP", "7", [pack, lot], ["CREDIT_LOT#1:3", "FLEX_PACK#2:4"]],
  ])("%s", (_why, policy, cost, sources, expected) => {
    const decision = decideChargeOrThrow(context({ policy, cost, sources }));
    expect(receipt(decision.allocations)).toEqual(expected);
    expect(sumMicros(decision.allocations.map((allocation) => allocation.amountMicros))).toBe(tokens(cost));
  });

  it("starts the 14-day grace period at booking time, not at the usage time", () => {
    const lateEvent = utc("2024-01-15T00:00:00Z");
    const decision = decideChargeOrThrow(context({ cost: "5", occurredAt: lateEvent }));
    expect(decision.deficit).toEqual({ deficitMicros: tokens("5"), graceStartedAt: now });
    expect(accountStatus(decision.deficit, now + GRACE_PERIOD_MS - 1)).toBe("GRACE");
    expect(accountStatus(decision.deficit, now + GRACE_PERIOD_MS)).toBe("RESTRICTED");
  });

  it("adds to a deficit during grace without restarting the clock", () => {
    const started = now - 3 * 86_400_000;
    const decision = decideChargeOrThrow(context({ cost: "2", deficit: { deficitMicros: tokens("5"), graceStartedAt: started } }));
    expect(decision.deficit).toEqual({ deficitMicros: tokens("7"), graceStartedAt: started });
    expect(receipt(decision.allocations)).toEqual(["DEFICIT#-:2"]);
  });

  it("still charges an account one millisecond before its grace period ends", () => {
    const deficit = { deficitMicros: tokens("5"), graceStartedAt: now - GRACE_PERIOD_MS + 1 };
    expect(receipt(decideChargeOrThrow(context({ deficit, sources: [lot] })).allocations)).toEqual(["CREDIT_LOT#1:1"]);
  });

  it("refuses usage with a cost once the grace period is over (ACCOUNT_RESTRICTED), even when it holds tokens", () => {
    const deficit = { deficitMicros: tokens("5"), graceStartedAt: now - GRACE_PERIOD_MS };
    const error = refusalOf(() => decideChargeOrThrow(context({ deficit, sources: [lot, pack] })));
    expect(error.code).toBe("ACCOUNT_RESTRICTED");
  });

  it("still accepts free usage on a restricted account, drawing nothing", () => {
    const deficit = { deficitMicros: tokens("5"), graceStartedAt: now - GRACE_PERIOD_MS };
    const decision = decideChargeOrThrow(context({ cost: "0", deficit, sources: [lot] }));
    expect(decision).toEqual({ allocations: [], deficit });
  });

  it("draws nothing for a zero cost even when tokens are held", () => {
    expect(decideChargeOrThrow(context({ cost: "0", sources: [lot, pack] })).allocations).toEqual([]);
  });

  it.each<[string, string, FundingSource[], DeficitState]>([
    ["the balance cannot cover the cost", "7.000001", [lot, pack], clear],
    ["nothing is held", "0.000001", [], clear],
    ["tokens held are not valid at the usage time", "1", [aLot({ id: 3, purchasedAt: "2024-06-01" })], clear],
    ["the account still owes a deficit (booked before the policy changed)", "1", [lot, pack], { deficitMicros: tokens("1"), graceStartedAt: now }],
  ])("refuses a HARD_STOP account with INSUFFICIENT_BALANCE when %s", (_why, cost, sources, deficit) => {
    const error = refusalOf(() => decideChargeOrThrow(context({ policy: "HARD_STOP", cost, sources, deficit })));
    expect(error.code).toBe("INSUFFICIENT_BALANCE");
  });
});

describe("new funds settle the deficit first", () => {
  const purchasedAt = "2024-06-02T00:00:00Z";
  const booking = utc("2024-06-02T00:00:00Z");

  /** Owe `owed`, then buy a pack of `bought`: what the core decides, as the services apply it. */
  function buyWhileOwing(owed: string, bought: string, graceStartedAt: number) {
    const debt: DeficitState = { deficitMicros: tokens(owed), graceStartedAt };
    const settlements = settleDeficit([{ allocationId: 1, outstandingMicros: tokens(owed) }], tokens(bought));
    const paid = sumMicros(settlements.map((settlement) => settlement.amountMicros));
    const newPack = aPack({ id: 10, tokens: bought, purchasedAt });
    const sources = applyAllocations([newPack], [{ source: "FLEX_PACK", sourceId: 10, amountMicros: paid }]);
    const deficit = reduceDeficit(debt, paid);
    return { deficit, balance: balanceAt(sources, deficit, booking) };
  }

  it("owing 5 and buying 100 leaves 95 available and the account ACTIVE", () => {
    const { deficit, balance } = buyWhileOwing("5", "100", now);
    expect(formatMicros(balance.availableMicros)).toBe("95");
    expect(formatMicros(balance.flexTokensMicros)).toBe("95");
    expect(balance.deficitMicros).toBe(0n);
    expect(balance.graceEndsAt).toBeNull();
    expect(accountStatus(deficit, booking)).toBe("ACTIVE");
  });

  it("owing 101 and buying 100 still owes 1 and stays RESTRICTED", () => {
    const started = booking - GRACE_PERIOD_MS - 1;
    const { deficit, balance } = buyWhileOwing("101", "100", started);
    expect(formatMicros(balance.availableMicros)).toBe("-1");
    expect(formatMicros(balance.deficitMicros)).toBe("1");
    expect(balance.flexTokensMicros).toBe(0n);
    expect(accountStatus(deficit, booking)).toBe("RESTRICTED");
  });
});

describe("the deficit bound", () => {
  const owing = (micros: bigint): DeficitState => ({ deficitMicros: micros, graceStartedAt: now });

  it("books a shortfall that brings the deficit exactly to the bound, paying what the lot holds first", () => {
    const decision = decideChargeOrThrow(context({ cost: "4", sources: [lot], deficit: owing(MAX_DEFICIT_MICROS - tokens("1")) }));
    expect(receipt(decision.allocations)).toEqual(["CREDIT_LOT#1:3", "DEFICIT#-:1"]);
    expect(decision.deficit.deficitMicros).toBe(MAX_DEFICIT_MICROS);
  });

  it("refuses with INSUFFICIENT_BALANCE on the given field a shortfall one micro-token past the bound", () => {
    const error = refusalOf(() => decideChargeOrThrow(context({ cost: "3.000001", sources: [lot], deficit: owing(MAX_DEFICIT_MICROS), field: "input.quantity" })));
    expect({ code: error.code, field: error.field }).toEqual({ code: "INSUFFICIENT_BALANCE", field: "input.quantity" });
  });

  it("still lets an account at the bound spend what it holds and use free APIs", () => {
    expect(receipt(decideChargeOrThrow(context({ cost: "3", sources: [lot], deficit: owing(MAX_DEFICIT_MICROS) })).allocations)).toEqual(["CREDIT_LOT#1:3"]);
    expect(decideChargeOrThrow(context({ cost: "0", deficit: owing(MAX_DEFICIT_MICROS) })).allocations).toEqual([]);
  });
});
